#!/usr/bin/env bash
# The device calls behind this folder, in order (stripped fp8jit, fp8jit_tests and libfp8jit.so
# carried in .device-build/new and .device-build/lib). Usage: run.sh tests|memcheck|bench|tune|compare
set -u
D=.device-build
MS=1,16,64,256,1024,4096,12345
compare() {  # $1: the CSV; the environment says model or autotuned
  python3 bench/compare.py --lib $D/lib/libfp8jit.so --impls fp8jit,torch,triton \
    --shapes bench/small.csv --m $MS --reps 15 --csv "$1"
}
for step in "$@"; do
  case $step in
    tests) $D/new/fp8jit_tests "[gpu]~[slow]" ;;
    memcheck) compute-sanitizer --tool memcheck $D/new/fp8jit_tests "gpu sanitize: the kernels plans choose*" ;;
    bench) FP8JIT_TUNED_TABLES=none $D/new/fp8jit bench --shapes bench/small.csv --m $MS --reps 15 \
             --csv $OUT/bench-small.csv ;;
    tune) FP8JIT_TUNED_TABLES=none $D/new/fp8jit tune --shapes bench/small.csv --m $MS --candidates 24 \
            --reps 5 -j 16 --out $OUT/tune-small.csv --dump $OUT/dump-small.csv ;;
    compare) FP8JIT_TUNED_TABLES=none compare $OUT/compare-model.csv
             FP8JIT_AUTOTUNE=1 FP8JIT_TUNED_TABLES=none compare $OUT/compare-autotuned.csv ;;
  esac
done
