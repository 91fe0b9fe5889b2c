#!/usr/bin/env bash
# The device call behind this folder (stripped fp8jit, fp8jit_tests, libfp8jit.so and the Python
# package carried in .device-build; vLLM's CUTLASS benchmark as .device-build/anchors).
# Usage: run.sh STEP...   steps: pytest gputests tbtest sanitize bench tune benchtuned cutlass mlp
set -u
D=.device-build
MS=1024,2048,4096,8192,12000
export FP8JIT_CACHE_DIR=/tmp/fp8jit-cache
for step in "$@"; do
  echo "=== $step $(date +%T)"
  case $step in
    pytest) PYTHONPATH=$D/py timeout 200 python3 -m pytest tests/python -rs -q > $OUT/pytest.log 2>&1; tail -25 $OUT/pytest.log ;;
    gputests) # the forced wgmma configs (bm256 among them) against float64
      $D/new/fp8jit_tests "gpu: GEMM with every kind of wgmma_sm90 config*" \
        2>&1 | gzip > $OUT/gpu-wgmma.log.gz
      zcat $OUT/gpu-wgmma.log.gz | grep -c " ok$"; zcat $OUT/gpu-wgmma.log.gz | grep -v " ok$" | tail -5 ;;
    tbtest) # the tuning bench times a config the same wherever it stands among the candidates
      $D/new/fp8jit_tests "gpu: the tuning bench times a config the same wherever it stands among the candidates" \
        > $OUT/tbtest.log 2>&1; echo "tbtest rc=$?"; grep -E "tuning-bench|passed|failed" $OUT/tbtest.log | tail -6 ;;
    sanitize) for tool in memcheck racecheck; do
        FP8JIT_CACHE_DIR=/tmp/fp8jit-cache-san compute-sanitizer --tool $tool --error-exitcode 9 $D/new/fp8jit_tests \
          "gpu sanitize: a persistent wgmma grid whose blocks run several tiles" > /tmp/san-$tool.log 2>&1
        echo "sanitize $tool rc=$?"; grep -E "sanitize-check|SKIPPED|ERROR SUMMARY|passed|failed" /tmp/san-$tool.log | head -6
      done | tee $OUT/sanitize.txt ;;
    tune) # every weight of bench/shapes.csv at M >= 1024, the shipped H200 table loaded (its row timed too)
      timeout ${TUNE_S:-500} $D/new/fp8jit tune --shapes bench/shapes.csv --m $MS --candidates 8 --reps 5 --min-calls 4 -j 16 \
        --out $OUT/tune.csv --dump $OUT/tune-dump.csv > $OUT/tune.log 2>&1; echo "tune rc=$?"; tail -45 $OUT/tune.log ;;
    bench) # the shipped rows, and in the same process the cost model's own pick (--heuristic), and cuBLASLt
      $D/new/fp8jit bench --shapes bench/shapes.csv --m $MS --reps 10 --heuristic --csv $OUT/bench${TAG:-}.csv \
        > $OUT/bench${TAG:-}.log 2>&1; echo "bench rc=$?"; tail -45 $OUT/bench${TAG:-}.log ;;
    benchtuned) # as bench, with the rows the tune step just measured as the only table
      FP8JIT_TUNED_TABLES=$OUT/tune.csv $D/new/fp8jit bench --shapes bench/shapes.csv --m $MS --reps 10 --heuristic \
        --csv $OUT/bench-tuned.csv > $OUT/bench-tuned.log 2>&1; echo "benchtuned rc=$?"; tail -8 $OUT/bench-tuned.log ;;
    mlp) PYTHONPATH=$D/py python3 bench/llama_mlp.py --csv $OUT/llama-mlp.csv 2>&1 | tee $OUT/llama-mlp.log | tail -12 ;;
    cutlass) timeout 120 $D/anchors/cutlass_ptpc --shapes bench/shapes.csv --m $MS --csv $OUT/cutlass${TAG:-}.csv > $OUT/cutlass${TAG:-}.log 2>&1
      echo "cutlass rc=$?"; tail -3 $OUT/cutlass${TAG:-}.log ;;
  esac
done
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > $OUT/device.txt
