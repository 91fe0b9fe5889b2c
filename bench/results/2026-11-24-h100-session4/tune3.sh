#!/usr/bin/env bash
# Session 4: the tuner's candidates now include each tile's largest persistent stage count
# (runtime/heuristic.cpp). Re-tune M = 512, 1024, 2048 (16 candidates, the table's row timed
# alongside), then the full bench with the tuned rows merged over the committed table.
cd "$(dirname "$0")/../../.."
O=/tmp/tune3; rm -rf $O; mkdir -p $O
export FP8JIT_CACHE_DIR=/tmp/fcT3
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader > $O/device.txt
timeout 330 build-gpu/fp8jit tune --m 512,1024,2048 --candidates 16 --reps 10 --out $O/tuned-mid.csv > $O/tune-mid.log 2>&1
FP8JIT_TUNED_TABLES=build-gpu/share/fp8jit/tuned/h100_sm90a.csv:$O/tuned-mid.csv build-gpu/fp8jit bench --csv $O/bench.csv > $O/bench.log 2>&1
tar czf $OUT/tune3.tgz -C /tmp tune3
grep -E "^llama" $O/tune-mid.log | cut -c1-200 | head -30; tail -11 $O/bench.log
