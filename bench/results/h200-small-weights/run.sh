#!/usr/bin/env bash
# K % 16 on the H200: the GPU tests, memcheck of the plans' kernels at K % 32 == 16, and the
# small-weight suite against cuBLASLt and Triton (cost model alone, no table).
set -u
D=.device-build
log=$OUT/log.txt
echo "== tests $(date +%T)" | tee -a $log
FP8JIT_CACHE_DIR=/tmp/c-t timeout 240 $D/new/fp8jit_tests "[gpu]~[slow]" > /tmp/tests.log 2>&1
echo "tests rc=$?" | tee -a $log; grep -E 'FAILED|passed|failed' /tmp/tests.log | tail -4 | tee -a $log
grep -E 'k16|forced-.*-k16' /tmp/tests.log | grep -c ' ok$' | sed 's/^/k16 points ok: /' | tee -a $log
grep -E 'FAIL$' /tmp/tests.log | head -5 | tee -a $log
gzip -c /tmp/tests.log > $OUT/gpu-tests.log.gz
echo "== memcheck $(date +%T)" | tee -a $log
FP8JIT_CACHE_DIR=/tmp/c-t timeout 200 compute-sanitizer --tool memcheck --print-limit 20 $D/new/fp8jit_tests \
  "gpu sanitize: the kernels plans choose, and the weight packing, at tiny shapes" > /tmp/memcheck.log 2>&1
echo "memcheck rc=$?" | tee -a $log; grep -E 'ERROR SUMMARY|passed|failed' /tmp/memcheck.log | tail -3 | tee -a $log
gzip -c /tmp/memcheck.log > $OUT/memcheck.log.gz
echo "== bench $(date +%T)" | tee -a $log
FP8JIT_TUNED_TABLES=none FP8JIT_CACHE_DIR=/tmp/c-b timeout 150 $D/new/fp8jit bench --shapes bench/small.csv \
  --m 1,16,64,256,1024,4096,12345 --reps 15 --csv $OUT/bench-small.csv > $OUT/bench-small.log 2>&1
echo "bench rc=$?" | tee -a $log; tail -3 $OUT/bench-small.log | tee -a $log
echo "== compare $(date +%T)" | tee -a $log
timeout 150 python3 bench/compare.py --impls torch,triton --shapes bench/small.csv --m 1,16,64,256,1024,4096,12345 \
  --reps 15 --csv $OUT/compare-small.csv > /tmp/compare.log 2>&1
echo "compare rc=$?" | tee -a $log; tail -2 /tmp/compare.log | tee -a $log
echo "== done $(date +%T)" | tee -a $log
#!/usr/bin/env bash
set -u
D=.device-build
log=$OUT/log.txt
echo "== memcheck $(date +%T)" | tee -a $log
FP8JIT_CACHE_DIR=/tmp/c-t timeout 240 compute-sanitizer --tool memcheck --print-limit 20 $D/new/fp8jit_tests \
  "gpu sanitize: the kernels plans choose*" > /tmp/memcheck.log 2>&1
echo "memcheck rc=$?" | tee -a $log; grep -E 'ERROR SUMMARY|passed|failed|sanitize-check.*k112|sanitize-check.*k48' /tmp/memcheck.log | tail -6 | tee -a $log
gzip -c /tmp/memcheck.log > $OUT/memcheck.log.gz
echo "== compare $(date +%T)" | tee -a $log
FP8JIT_TUNED_TABLES=none FP8JIT_CACHE_DIR=/tmp/c-c timeout 200 python3 bench/compare.py --lib $D/lib/libfp8jit.so --impls fp8jit,torch,triton \
  --shapes bench/small.csv --m 1,16,64,256,1024,4096,12345 --reps 15 --csv $OUT/compare-small-all.csv > /tmp/compare.log 2>&1
echo "compare rc=$?" | tee -a $log; tail -9 /tmp/compare.log | tee -a $log
echo "== done $(date +%T)" | tee -a $log
#!/usr/bin/env bash
# Small weights: tune with graph-replayed timing (every candidate dumped), then compare.py with
# fp8jit autotuned (no table) against torch and Triton, and the cost model alone once more.
set -u
D=.device-build
log=$OUT/log.txt
MS=1,16,64,256,1024,4096,12345
echo "== tune $(date +%T)" | tee -a $log
FP8JIT_TUNED_TABLES=none FP8JIT_CACHE_DIR=/tmp/c-s timeout 200 $D/new/fp8jit tune --shapes bench/small.csv --m $MS \
  --candidates 24 --reps 5 -j 16 --out $OUT/tune-small.csv --dump $OUT/dump-small.csv > /tmp/tune.log 2>&1
echo "tune rc=$?" | tee -a $log; tail -3 /tmp/tune.log | tee -a $log
echo "== compare autotuned $(date +%T)" | tee -a $log
FP8JIT_AUTOTUNE=1 FP8JIT_TUNED_TABLES=none FP8JIT_CACHE_DIR=/tmp/c-a timeout 200 python3 bench/compare.py --lib $D/lib/libfp8jit.so \
  --impls fp8jit,torch,triton --shapes bench/small.csv --m $MS --reps 15 --csv $OUT/compare-autotuned.csv > /tmp/c1.log 2>&1
echo "rc=$?" | tee -a $log; tail -9 /tmp/c1.log | tee -a $log
echo "== compare model $(date +%T)" | tee -a $log
FP8JIT_TUNED_TABLES=none FP8JIT_CACHE_DIR=/tmp/c-m timeout 100 python3 bench/compare.py --lib $D/lib/libfp8jit.so \
  --impls fp8jit,torch,triton --shapes bench/small.csv --m $MS --reps 15 --csv $OUT/compare-model.csv > /tmp/c2.log 2>&1
echo "rc=$?" | tee -a $log; tail -9 /tmp/c2.log | tee -a $log
echo "== done $(date +%T)" | tee -a $log
#!/usr/bin/env bash
set -u
D=.device-build
log=$OUT/log.txt
MS=1,16,64,256,1024,4096,12345
echo "== compare autotuned $(date +%T)" | tee -a $log
FP8JIT_AUTOTUNE=1 FP8JIT_TUNED_TABLES=none FP8JIT_CACHE_DIR=/tmp/c-a timeout 200 python3 bench/compare.py --lib $D/lib/libfp8jit.so \
  --impls fp8jit,torch,triton --shapes bench/small.csv --m $MS --reps 15 --csv $OUT/compare-autotuned.csv > /tmp/c1.log 2>&1
echo "rc=$?" | tee -a $log; tail -9 /tmp/c1.log | tee -a $log
echo "== tests $(date +%T)" | tee -a $log
FP8JIT_CACHE_DIR=/tmp/c-t timeout 230 $D/new/fp8jit_tests "[gpu]~[slow]" > /tmp/tests.log 2>&1
echo "tests rc=$?" | tee -a $log; grep -E 'FAILED|passed|failed' /tmp/tests.log | tail -4 | tee -a $log
gzip -c /tmp/tests.log > $OUT/gpu-tests.log.gz
echo "== done $(date +%T)" | tee -a $log
