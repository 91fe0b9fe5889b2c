#!/usr/bin/env bash
# One device call: the weight's first stages before griddepcontrol.wait in wgmma_sm90 (v0 none,
# v1 L2 prefetch of the first 2 x stages, v2 copies of the first stages), the cost model's configs
# (no table), big weights at M = 1, 16, 64, two passes; Triton on the same points; ncu of v0.
set -u
D=.device-build
log=$OUT/log.txt
export FP8JIT_TUNED_TABLES=none
for pass in 1 2; do
  for v in v0 v1 v2; do
    echo "== bench $v $pass $(date +%T)" | tee -a $log
    FP8JIT_CACHE_DIR=/tmp/c-$v timeout 100 $D/$v/fp8jit bench --shapes $D/big.csv --m 1,16,64 --reps 15 \
      --csv $OUT/bench-$v-$pass.csv > /tmp/bench-$v-$pass.log 2>&1
    echo "rc=$?" | tee -a $log; tail -5 /tmp/bench-$v-$pass.log | tee -a $log
  done
done
tar czf $OUT/logs.tar.gz -C /tmp $(cd /tmp && ls bench-v*.log)
echo "== triton $(date +%T)" | tee -a $log
timeout 150 python3 bench/compare.py --impls triton --shapes $D/big.csv --m 1,16,64 --reps 15 --csv $OUT/compare.csv > /tmp/compare.log 2>&1
echo "rc=$?" | tee -a $log; tail -3 /tmp/compare.log | tee -a $log
echo "== ncu $(date +%T)" | tee -a $log
printf 'N,K\n10240,8192\n' > /tmp/qkv.csv; printf 'N,K\n36864,7168\n' > /tmp/dsgu.csv
M=gpu__time_duration.sum,sm__cycles_elapsed.avg,sm__cycles_active.avg,sm__cycles_active.min,sm__cycles_active.max,dram__throughput.avg.pct_of_peak_sustained_elapsed,launch__grid_size,launch__occupancy_limit_shared_mem
for spec in qkv:1 qkv:16 dsgu:64; do
  s=${spec%%:*}; m=${spec##*:}
  FP8JIT_CACHE_DIR=/tmp/c-v0 timeout 60 ncu --clock-control none -k regex:fp8gemm --launch-skip 4 --launch-count 2 \
    --metrics $M --csv $D/v0/fp8jit bench --shapes /tmp/$s.csv --m $m --reps 2 --min-calls 2 > /tmp/ncu-$s-$m.csv 2>>$log
  echo "ncu $s $m rc=$?" | tee -a $log
done
FP8JIT_CACHE_DIR=/tmp/c-v0 timeout 60 ncu --clock-control none -k regex:fp8gemm --launch-skip 4 --launch-count 1 \
  --section SpeedOfLight --section WarpStateStats --section MemoryWorkloadAnalysis $D/v0/fp8jit bench --shapes /tmp/dsgu.csv --m 64 --reps 2 --min-calls 2 > /tmp/ncu-dsgu64-sections.txt 2>>$log
cat /tmp/ncu-*.csv > $OUT/ncu.csv; cp /tmp/ncu-dsgu64-sections.txt $OUT/
echo "== done $(date +%T)" | tee -a $log
