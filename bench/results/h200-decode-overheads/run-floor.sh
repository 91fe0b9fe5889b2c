#!/usr/bin/env bash
set -u
D=.device-build
log=$OUT/log.txt
$D/probe/read_floor 64 80 128 224 448 > $OUT/read_floor.csv 2>&1; echo "probe rc=$?" | tee -a $log
printf 'N,K\n10240,8192\n' > /tmp/qkv.csv; printf 'N,K\n36864,7168\n' > /tmp/dsgu.csv
M=gpu__time_duration.sum,sm__cycles_elapsed.avg,sm__cycles_active.avg,sm__cycles_active.min,sm__cycles_active.max,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes_read.sum,launch__grid_size
export FP8JIT_TUNED_TABLES=$PWD/tuned/h200_sm90a.csv
for spec in qkv:1 qkv:16 dsgu:16 dsgu:64; do
  s=${spec%%:*}; m=${spec##*:}
  FP8JIT_CACHE_DIR=/tmp/c-n timeout 60 ncu --clock-control none -k regex:fp8gemm --launch-skip 4 --launch-count 2 \
    --metrics $M --csv $D/new/fp8jit bench --shapes /tmp/$s.csv --m $m --reps 2 --min-calls 2 > /tmp/ncu-$s-$m.csv 2>>$log
  echo "ncu $s $m rc=$?" | tee -a $log
done
timeout 60 ncu --clock-control none --launch-skip 40 --launch-count 2 \
  -k regex:read_kernel --metrics $M --csv $D/probe/read_floor 80 > /tmp/ncu-probe.csv 2>>$log
cat /tmp/ncu-*.csv > $OUT/ncu.csv
echo "== done $(date +%T)" | tee -a $log
