#!/bin/bash
# Session 8, final (2): compute-sanitizer memcheck / racecheck / initcheck over the [sanitize]
# selection, committed code (6a53a77).
set -u
R=$OUT/final-san; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
OUT=$R FP8JIT_TUNED_TABLES=none FP8JIT_BUILD_DIR=build-gpu FP8JIT_CACHE_DIR=/tmp/c-san timeout 500 scripts/gpu-sanitize > $R/sanitize.log 2>&1; echo "rc=$?" >> $R/sanitize.log
tail -5 $R/sanitize.log
cd $OUT && tar czf final-san.tgz final-san && rm -rf final-san
