#!/usr/bin/env bash
# The device call planned for this folder (none has run yet): the build carried in
# ../../../.device-build (stripped fp8jit, fp8jit_tests, libfp8jit.so; vLLM's CUTLASS benchmark as
# anchors/cutlass_ptpc).
# Usage: run.sh STEP...   steps:
#   tests    the ping-pong configs forced through a tuned table (every GEMM against float64,
#            poisoned outputs), then the sanitize selection without a sanitizer
#   racecheck  compute-sanitizer racecheck on the sanitize selection's persistent grids
#   ab       fp8jit bench on bench/shapes.csv at M = 1024..12000, every point forced to one config
#            per run (tables made here in /tmp): the 128 x 128 tile persistent, the same tile
#            ping-pong, and the 128 x 256 persistent tile; then the shipped tables
#   cutlass  vLLM's cutlass_scaled_mm (sm90) on the same points
# The device tool brings back at most 8 files: the logs come back as one logs.tgz.
set -u
D=.device-build
MS=1024,2048,4096,8192,12000
export FP8JIT_CACHE_DIR=/tmp/fp8jit-cache
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv,noheader > $OUT/device.txt
cat $OUT/device.txt
table() {  # $1: the config; prints the table's path
  local f=/tmp/table-$1.csv
  echo "arch,cu_num,M,N,K,q_dtype_w,out_dtype,bias,config,us,tflops,bw" > $f
  grep -v '^#' bench/shapes.csv | tail -n +2 | while IFS=, read -r _ _ n k; do
    for m in ${MS//,/ }; do echo "sm_90a,132,$m,$n,$k,e4m3fn,bf16,1,$1,0,0,0" >> $f; done
  done
  echo $f
}
bench() {  # $1: the tag; the environment says which tables
  timeout 150 $D/new/fp8jit bench --shapes bench/shapes.csv --m $MS --reps 10 --csv $OUT/bench-$1.csv > $OUT/bench-$1.log 2>&1
  echo "bench $1 rc=$?"; tail -3 $OUT/bench-$1.log
}
for step in "$@"; do
  echo "=== $step $(date +%T)"
  case $step in
    tests) timeout ${TESTS_S:-300} $D/new/fp8jit_tests "[pingpong]","gpu sanitize: every kind of GEMM config*" \
             --durations yes 2>&1 | gzip > $OUT/gpu-tests.log.gz
      zcat $OUT/gpu-tests.log.gz | grep -E "FAILED|SKIPPED|test cases|assertions|s: " | tail -8 ;;
    racecheck) timeout 300 compute-sanitizer --tool racecheck $D/new/fp8jit_tests \
        "gpu sanitize: a persistent wgmma grid whose blocks run several tiles" > $OUT/racecheck.log 2>&1
      echo "racecheck rc=$?"; tail -4 $OUT/racecheck.log ;;
    ab) for c in wg_bm128_bn128_bk128_w8_s6_k1 wg_bm128_bn128_bk128_w8_s6_k1_pp wg_bm128_bn256_bk128_w8_s4_k1; do
          FP8JIT_TUNED_TABLES=$(table $c) bench $c
        done
        bench shipped ;;
    cutlass) timeout 150 $D/anchors/cutlass_ptpc --shapes bench/shapes.csv --m $MS --csv $OUT/cutlass.csv > $OUT/cutlass.log 2>&1
      echo "cutlass rc=$?"; tail -3 $OUT/cutlass.log ;;
  esac
done
cd $OUT && tar czf logs.tgz *.log 2>/dev/null; rm -f *.log; true
