#!/usr/bin/env bash
# The device calls behind this folder (stripped fp8jit, fp8jit_tests, libfp8jit.so and the Python
# package laid out by `cmake --install build --component python`, carried in .device-build).
# Usage: run.sh STEP...   steps: tests pytest compare mlp
set -u
D=.device-build
MS=4096,8192,9000,12345,16384,30000
compare() {  # $1: the CSV; the environment says model or autotuned
  python3 bench/compare.py --lib $D/lib/libfp8jit.so --impls fp8jit,torch,triton \
    --shapes bench/small.csv --m $MS --reps 15 --csv "$1"
}
export FP8JIT_CACHE_DIR=/tmp/fp8jit-cache
for step in "$@"; do
  echo "=== $step $(date +%T)"
  case $step in
    tests) $D/new/fp8jit_tests "[gpu]~[slow]" 2>&1 | gzip > $OUT/gpu-tests.log.gz
           zcat $OUT/gpu-tests.log.gz | tail -4 ;;
    pytest) PYTHONPATH=$D/py python3 -m pytest tests/python -rs -q 2>&1 | tee $OUT/pytest.log | tail -15 ;;
    compare) FP8JIT_TUNED_TABLES=none compare $OUT/compare-model.csv 2>&1 | tail -3
             FP8JIT_AUTOTUNE=1 FP8JIT_TUNED_TABLES=none compare $OUT/compare-autotuned.csv 2>&1 | tail -3 ;;
    mlp) PYTHONPATH=$D/py python3 bench/llama_mlp.py --csv $OUT/llama-mlp.csv 2>&1 | tee $OUT/llama-mlp.log | tail -20 ;;
  esac
done
