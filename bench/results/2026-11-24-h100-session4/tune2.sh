#!/usr/bin/env bash
# Re-tunes with the persistent grid in place: the decode points of the 85%-of-copy target
# (llama3-70b.qkv and .o at M = 1, 16; 64 candidates) and M = 1024 of the two qkv shapes (48).
cd "$(dirname "$0")/../../.."
O=/tmp/tune2; rm -rf $O; mkdir -p $O
export FP8JIT_CACHE_DIR=/tmp/fcP1
printf '10240,8192\n8192,8192\n' > $O/decode.csv
printf '6144,4096\n10240,8192\n' > $O/qkv.csv
timeout 250 build-gpu/fp8jit tune --shapes $O/decode.csv --m 1,16 --candidates 64 --reps 20 --out $O/tuned-decode.csv > $O/tune-decode.log 2>&1
timeout 250 build-gpu/fp8jit tune --shapes $O/qkv.csv --m 1024 --candidates 48 --reps 10 --out $O/tuned-qkv1024.csv > $O/tune-qkv1024.log 2>&1
tar czf $OUT/tune2.tgz -C /tmp tune2
tail -5 $O/tune-decode.log; tail -3 $O/tune-qkv1024.log
