#!/usr/bin/env bash
# Nsight Compute on the compute-bound GEMMs: fp8jit's shipped H200 rows and vLLM's CUTLASS
# kernel (the anchor binary), same shapes, M = 8192, clocks left to the GPU (--clock-control none).
# Usage: run.sh   (on the GPU machine; binaries carried in .device-build)
set -u
D=.device-build
export FP8JIT_CACHE_DIR=/tmp/fp8jit-cache-ncu
R=/tmp/ncu-out; mkdir -p $R
SECTIONS="--section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section WarpStateStats --section SchedulerStats --section LaunchStats --section Occupancy"
METRICS="--metrics sm__cycles_elapsed.avg.per_second,sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_tensor_op_gmma.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum,smsp__inst_executed.sum,dram__bytes_read.sum,lts__t_sector_hit_rate.pct"
printf 'model,layer,N,K\nllama3-8b,gate_up,28672,4096\n' > /tmp/s1.csv
printf 'model,layer,N,K\nllama3-70b,qkv,10240,8192\n' > /tmp/s2.csv
for s in 1 2; do
  f=/tmp/s$s.csv
  ncu --clock-control none --kernel-name regex:fp8gemm --launch-skip 3 --launch-count 1 $SECTIONS $METRICS \
    $D/new/fp8jit bench --shapes $f --m 8192 --reps 2 --min-calls 1 > $R/ncu-fp8jit-s$s.txt 2>&1
  ncu --clock-control none --kernel-name regex:device_kernel --launch-skip 3 --launch-count 1 $SECTIONS $METRICS \
    $D/anchors/cutlass_ptpc --shapes $f --m 8192 --reps 2 > $R/ncu-cutlass-s$s.txt 2>&1
  grep -E "fp8gemm|device_kernel|Duration|SM Frequency|Compute \(SM\) Throughput|gmma|Registers Per|Theoretical Occ|Shared Memory Configuration Size|per_second|wavefronts|Issue Slots Busy|No Eligible|Stall" $R/ncu-fp8jit-s$s.txt $R/ncu-cutlass-s$s.txt | cut -c1-200 | head -60
done
tar czf $OUT/ncu.tar.gz -C $R .
