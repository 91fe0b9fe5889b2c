#!/usr/bin/env bash
# The device calls behind this folder: the build of the time carried in .device-build (stripped
# fp8jit, fp8jit_tests, libfp8jit.so, the Python package laid out as pip installs it, vLLM's
# CUTLASS benchmark as .device-build/anchors/cutlass_ptpc).
# Usage: run.sh STEP...   steps: wheel gpu pytest mlp bench cutlass tune benchtuned
#   wheel       pip installs the wheel carried in .whl (built here by `pip wheel .`) into /tmp/site,
#               which pytest and mlp then import (else the package files in .device-build/py)
#   gpu         every [gpu] test but the [slow] one, or those GPU_SPEC names (each GEMM against
#               float64, poisoned outputs)
#   pytest      tests/python against the package, on CUDA
#   mlp         bench/llama_mlp.py: the Llama-3-8B MLP block, fp8jit's op against torch._scaled_mm
#               under torch.compile + CUDA graphs; the op's host overhead in eager mode
#   bench       fp8jit bench on bench/shapes.csv at M >= 1024: the shipped rows, the cost model's
#               pick (--heuristic) and cuBLASLt in one process (TAG names the files)
#   cutlass     vLLM's cutlass_scaled_mm (sm90) on the same shapes and M
#   tune        fp8jit tune on those shapes and M (TUNE_S bounds it), the rows to tune.csv
#   benchtuned  bench with tune.csv as the only table
#   compare     bench/compare.py on bench/small.csv (no tuned table: the cost model's picks) against
#               torch._scaled_mm and the Triton kernel at CMP_M (default 1024,4096,9000,12345)
# The device tool brings back at most 8 files: at the end the logs go into one logs.tgz.
set -u
D=.device-build
MS=1024,2048,4096,8192,12000
export FP8JIT_CACHE_DIR=/tmp/fp8jit-cache
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv,noheader > $OUT/device.txt
cat $OUT/device.txt
PY=$D/py
for step in "$@"; do
  echo "=== $step $(date +%T)"
  case $step in
    wheel) python3 -m pip install --quiet --no-deps --no-index --target /tmp/site .whl/*.whl
      echo "wheel rc=$?"; PY=/tmp/site ;;
    gpu) timeout ${GPU_S:-400} $D/new/fp8jit_tests "${GPU_SPEC:-[gpu]~[slow]}" --durations yes 2>&1 | gzip > $OUT/gpu-tests.log.gz
      zcat $OUT/gpu-tests.log.gz | grep -E "SKIPPED|FAILED|test cases|assertions" | tail -8 ;;
    pytest) PYTHONPATH=$PY timeout 300 python3 -m pytest tests/python -rfEs -q > $OUT/pytest.log 2>&1
      echo "pytest rc=$?"; tail -25 $OUT/pytest.log ;;
    mlp) PYTHONPATH=$PY timeout 300 python3 bench/llama_mlp.py --csv $OUT/llama-mlp.csv > $OUT/llama-mlp.log 2>&1
      echo "mlp rc=$?"; tail -14 $OUT/llama-mlp.log ;;
    bench) $D/new/fp8jit bench --shapes bench/shapes.csv --m $MS --reps 10 --heuristic --csv $OUT/bench${TAG:-}.csv \
        > $OUT/bench${TAG:-}.log 2>&1; echo "bench rc=$?"; tail -12 $OUT/bench${TAG:-}.log ;;
    cutlass) timeout 150 $D/anchors/cutlass_ptpc --shapes bench/shapes.csv --m $MS --csv $OUT/cutlass${TAG:-}.csv > $OUT/cutlass${TAG:-}.log 2>&1
      echo "cutlass rc=$?"; tail -3 $OUT/cutlass${TAG:-}.log ;;
    tune) timeout ${TUNE_S:-400} $D/new/fp8jit tune --shapes bench/shapes.csv --m $MS --candidates 8 --reps 5 --min-calls 4 -j 16 \
        --out $OUT/tune.csv --dump $OUT/tune-dump.csv > $OUT/tune.log 2>&1; echo "tune rc=$?"; tail -20 $OUT/tune.log ;;
    benchtuned) FP8JIT_TUNED_TABLES=$OUT/tune.csv $D/new/fp8jit bench --shapes bench/shapes.csv --m $MS --reps 10 --heuristic \
        --csv $OUT/bench-tuned.csv > $OUT/bench-tuned.log 2>&1; echo "benchtuned rc=$?"; tail -8 $OUT/bench-tuned.log ;;
    compare) FP8JIT_TUNED_TABLES=none timeout ${CMP_S:-200} python3 bench/compare.py --lib $D/lib/libfp8jit.so \
        --impls fp8jit,torch,triton --shapes bench/small.csv --m ${CMP_M:-1024,4096,9000,12345} --reps 15 \
        --csv $OUT/compare-small.csv > $OUT/compare-small.log 2>&1; echo "compare rc=$?"; tail -6 $OUT/compare-small.log ;;
  esac
done
(cd $OUT && ls *.log >/dev/null 2>&1 && tar czf logs.tgz *.log && rm -f *.log) || true  # (no log: nothing to archive)
