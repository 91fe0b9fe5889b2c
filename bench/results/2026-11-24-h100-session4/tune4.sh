#!/usr/bin/env bash
# Session 4: re-tune M = 16 and 64 (their rows predate the W box by TMA; 32 candidates, the
# table's row timed alongside), then the full bench with tune3's and these rows merged over the
# committed table (the table committed after this run is that merge).
cd "$(dirname "$0")/../../.."
O=/tmp/tune4; rm -rf $O; mkdir -p $O
export FP8JIT_CACHE_DIR=/tmp/fcT3
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader > $O/device.txt
T=build-gpu/share/fp8jit/tuned/h100_sm90a.csv:abv/tuned-mid.csv
FP8JIT_TUNED_TABLES=$T timeout 300 build-gpu/fp8jit tune --m 16,64 --candidates 32 --reps 10 --out $O/tuned-small.csv > $O/tune-small.log 2>&1
FP8JIT_TUNED_TABLES=$T:$O/tuned-small.csv build-gpu/fp8jit bench --csv $O/bench.csv > $O/bench.log 2>&1
tar czf $OUT/tune4.tgz -C /tmp tune4
grep -E "^llama" $O/tune-small.log | cut -c1-200; tail -10 $O/bench.log
