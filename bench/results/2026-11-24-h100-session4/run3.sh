#!/usr/bin/env bash
# Session 4, the W box by TMA with the break loop (the commit's code, build-gpu): full bench, the
# [gpu] test selection, and a re-tune of M = 256 / 1024 whose configs' costs have changed.
cd "$(dirname "$0")/../../.."
O=/tmp/run3; rm -rf $O; mkdir -p $O
export FP8JIT_CACHE_DIR=/tmp/fc3
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader > $O/device.txt
build-gpu/fp8jit bench --csv $O/bench.csv > $O/bench.log 2>&1
timeout 240 build-gpu/tests/fp8jit_tests "[gpu]~[slow]" > $O/gpu-tests.log 2>&1; echo "tests rc=$?" >> $O/gpu-tests.log
timeout 200 build-gpu/fp8jit tune --m 256,1024 --candidates 16 --reps 10 --out $O/tuned-mid.csv > $O/tune-mid.log 2>&1
tar czf $OUT/run3.tgz -C /tmp run3
tail -12 $O/bench.log; tail -3 $O/gpu-tests.log
echo "gemm-checks $(grep -c '^gemm-check' $O/gpu-tests.log), not ok $(grep '^gemm-check' $O/gpu-tests.log | grep -vc ' ok$')"
grep -m1 '^overhead:' $O/gpu-tests.log; cat $O/tune-mid.log | tail -18
