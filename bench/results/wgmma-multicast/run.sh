#!/usr/bin/env bash
# The device call behind this folder: the build carried in ../../../.device-build (stripped
# fp8jit, fp8jit_tests, libfp8jit.so, the Python package's files, vLLM's CUTLASS benchmark as
# anchors/cutlass_ptpc).
# Usage: run.sh STEP...   steps:
#   tests    the multicast configs forced through a tuned table (every GEMM against float64,
#            poisoned outputs), and the sanitize selection's forced configs (without a sanitizer)
#   pytest   the GPU tests of the vLLM kernel (tests/python/test_vllm.py -k gpu)
#   overhead bench/llama_mlp.py at batch 1: the op's host time per eager call
#   bench    fp8jit bench on bench/shapes.csv at M = 1024..12000 with the shipped tables, then
#            with each table of tables/ as the only one (every point forced to one config)
#   ab       the bench of tables/bm256.csv and tables/bm256-mc2.csv only
#   cutlass  vLLM's cutlass_scaled_mm (sm90) on the same points
#   ncu      Nsight Compute (clocks left to the GPU) on llama3-70b.o at M = 8192, one kernel each
#            with tables/bm256.csv and tables/bm256-mc2.csv: the multicast A/B's profile
# The device tool brings back at most 8 files: the logs come back as one logs.tgz.
set -u
D=.device-build
HERE=bench/results/wgmma-multicast
MS=1024,2048,4096,8192,12000
export FP8JIT_CACHE_DIR=/tmp/fp8jit-cache
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv,noheader > $OUT/device.txt
cat $OUT/device.txt
bench() {  # $1: the tag; the environment says which tables
  timeout 150 $D/new/fp8jit bench --shapes bench/shapes.csv --m $MS --reps 10 --csv $OUT/bench-$1.csv > $OUT/bench-$1.log 2>&1
  echo "bench $1 rc=$?"; tail -3 $OUT/bench-$1.log
}
for step in "$@"; do
  echo "=== $step $(date +%T)"
  case $step in
    tests) timeout ${TESTS_S:-300} $D/new/fp8jit_tests "[multicast]","gpu sanitize: every kind of GEMM config, forced, at a tiny shape" \
             --durations yes 2>&1 | gzip > $OUT/gpu-tests.log.gz
      zcat $OUT/gpu-tests.log.gz | grep -E "FAILED|SKIPPED|test cases|assertions|s: " | tail -8 ;;
    pytest) PYTHONPATH=$D/py timeout 200 python3 -m pytest tests/python/test_vllm.py -k gpu -rfEs -q > $OUT/pytest.log 2>&1
      echo "pytest rc=$?"; tail -12 $OUT/pytest.log ;;
    overhead) PYTHONPATH=$D/py timeout 150 python3 bench/llama_mlp.py --batches 1 --json $OUT/overhead.json > $OUT/overhead.log 2>&1
      echo "overhead rc=$?"; tail -3 $OUT/overhead.log ;;
    bench) bench shipped
      for t in $HERE/tables/*.csv; do FP8JIT_TUNED_TABLES=$t bench $(basename $t .csv); done ;;
    ab) for t in bm256 bm256-mc2; do FP8JIT_TUNED_TABLES=$HERE/tables/$t.csv bench $t; done ;;
    cutlass) timeout 150 $D/anchors/cutlass_ptpc --shapes bench/shapes.csv --m $MS --csv $OUT/cutlass.csv > $OUT/cutlass.log 2>&1
      echo "cutlass rc=$?"; tail -3 $OUT/cutlass.log ;;
    ncu) printf 'model,layer,N,K\nllama3-70b,o,8192,8192\n' > /tmp/o.csv
      for t in bm256 bm256-mc2; do
        FP8JIT_TUNED_TABLES=$HERE/tables/$t.csv timeout 150 ncu --clock-control none --kernel-name regex:fp8gemm \
          --launch-skip 3 --launch-count 1 --section SpeedOfLight --section MemoryWorkloadAnalysis \
          --section WarpStateStats --section SchedulerStats --section LaunchStats --section Occupancy \
          --metrics sm__cycles_elapsed.avg.per_second,sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,lts__t_bytes.sum.per_second,lts__t_sector_hit_rate.pct,dram__bytes_read.sum \
          $D/new/fp8jit bench --shapes /tmp/o.csv --m 8192 --reps 2 --min-calls 1 > $OUT/ncu-$t.log 2>&1
        echo "ncu $t rc=$?"; grep -E "Duration|SM Frequency|gmma|No Eligible|Cluster|lts__t_bytes|Memory Throughput" $OUT/ncu-$t.log | cut -c1-150 | head -12
      done ;;
  esac
done
cd $OUT && tar czf logs.tgz *.log *.json 2>/dev/null; rm -f *.log *.json; true
