#!/usr/bin/env bash
# Session 4, second call: diag.sh's steps 2-3 again (their files did not come back: too many),
# packed into one archive, plus cuBLASLt's warp-state profile at the same point.
cd "$(dirname "$0")/../../.."
export FP8JIT_CACHE_DIR=/tmp/fc
B=build-gpu/fp8jit
NCU=/usr/local/cuda/bin/ncu
O=/tmp/diag2; rm -rf $O; mkdir -p $O
printf '6144,4096\n' > /tmp/qkv8.csv
S="--section SourceCounters --section WarpStateStats --section SpeedOfLight --section LaunchStats --section MemoryWorkloadAnalysis --section SchedulerStats --section ComputeWorkloadAnalysis"
timeout 150 $NCU --kernel-name regex:fp8gemm --launch-skip 2 --launch-count 1 --import-source no \
  $S -o $O/qkv8-m1024 $B bench --shapes /tmp/qkv8.csv --m 1024 --reps 1 > $O/ncu-qkv8-m1024.log 2>&1
$NCU -i $O/qkv8-m1024.ncu-rep --page source --csv --print-source sass > $O/qkv8-m1024-sass.csv 2>&1
$NCU -i $O/qkv8-m1024.ncu-rep --page details > $O/qkv8-m1024-details.txt 2>&1
timeout 100 $NCU --kernel-name 'regex:^(?!fp8)' --launch-count 1 $S -o $O/cublas-qkv8-m1024 \
  $B bench --shapes /tmp/qkv8.csv --m 1024 --reps 1 > $O/ncu-cublas-qkv8-m1024.log 2>&1
$NCU -i $O/cublas-qkv8-m1024.ncu-rep --page details > $O/cublas-qkv8-m1024-details.txt 2>&1
$NCU -i $O/cublas-qkv8-m1024.ncu-rep --page source --csv --print-source sass > $O/cublas-qkv8-m1024-sass.csv 2>&1
for m in 4096 8192; do
  timeout 100 $NCU --kernel-name regex:fp8gemm --launch-skip 2 --launch-count 1 \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --section LaunchStats \
    $B bench --shapes /tmp/qkv8.csv --m $m --reps 1 > $O/ncu-qkv8-m$m.log 2>&1
done
rm -f $O/*.ncu-rep
tar czf $OUT/diag2.tgz -C /tmp diag2
ls -la $O
