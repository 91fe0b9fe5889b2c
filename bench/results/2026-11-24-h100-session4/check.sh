#!/usr/bin/env bash
# Session 4, last check of the committed code: the [gpu] tests and compute-sanitizer.
cd "$(dirname "$0")/../../.."
O=/tmp/check; rm -rf $O; mkdir -p $O
export FP8JIT_CACHE_DIR=/tmp/fcC
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $O/device.txt
timeout 260 build-gpu/tests/fp8jit_tests "[gpu]~[slow]" > $O/gpu-tests.log 2>&1; echo "tests rc=$?" >> $O/gpu-tests.log
OUT=$O FP8JIT_TUNED_TABLES=none FP8JIT_BUILD_DIR=build-gpu scripts/gpu-sanitize > $O/sanitize.log 2>&1; echo "sanitize rc=$?" >> $O/sanitize.log
tar czf $OUT/check.tgz -C /tmp check
tail -2 $O/gpu-tests.log; echo "gemm-checks $(grep -c '^gemm-check' $O/gpu-tests.log), not ok $(grep '^gemm-check' $O/gpu-tests.log | grep -vc ' ok$')"
grep -m1 '^overhead:' $O/gpu-tests.log; grep -E '^sanitize( [a-z]+  |: SKIPPED)|rc=' $O/sanitize.log | tail -4
