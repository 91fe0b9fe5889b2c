#!/usr/bin/env bash
# One device call: the GPU tests of the new tree; fp8jit bench old (d251e7e) and new, two passes
# each, both on the shipped H200 table; ncu on two memory-bound points.
set -u
D=.device-build
log=$OUT/log.txt
export FP8JIT_TUNED_TABLES=$PWD/tuned/h200_sm90a.csv
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv; } > $OUT/device.txt 2>&1
echo "== tests $(date +%T)" | tee -a $log
FP8JIT_CACHE_DIR=/tmp/c-tests timeout 200 $D/new/fp8jit_tests "[gpu]~[slow]" > /tmp/tests.log 2>&1
echo "tests rc=$?" | tee -a $log; tail -4 /tmp/tests.log | tee -a $log; gzip -c /tmp/tests.log > $OUT/gpu-tests.log.gz
for pass in 1 2; do
  for v in old new; do
    echo "== bench $v $pass $(date +%T)" | tee -a $log
    FP8JIT_CACHE_DIR=/tmp/c-$v timeout 120 $D/$v/fp8jit bench --m 1,16,64,256,1024,4096,8192 \
      --csv /tmp/bench-$v-$pass.csv > /tmp/bench-$v-$pass.log 2>&1
    echo "rc=$?" | tee -a $log; tail -3 /tmp/bench-$v-$pass.log | tee -a $log
  done
done
tar czf $OUT/bench-ab.tar.gz -C /tmp bench-old-1.csv bench-old-2.csv bench-new-1.csv bench-new-2.csv \
  bench-old-1.log bench-old-2.log bench-new-1.log bench-new-2.log
echo "== done $(date +%T)" | tee -a $log
