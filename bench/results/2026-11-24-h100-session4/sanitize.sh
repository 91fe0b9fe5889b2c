#!/usr/bin/env bash
# Session 4: compute-sanitizer memcheck, racecheck and initcheck over the [sanitize] selection
# (now with a persistent wgmma grid whose blocks run two tiles), with the forced config kinds only.
cd "$(dirname "$0")/../../.."
O=/tmp/san; rm -rf $O; mkdir -p $O
export FP8JIT_CACHE_DIR=/tmp/fcS
OUT=$O FP8JIT_TUNED_TABLES=none FP8JIT_BUILD_DIR=build-gpu FP8JIT_SANITIZE_TIMEOUT=300 scripts/gpu-sanitize > $O/sanitize.log 2>&1
echo "rc=$?" >> $O/sanitize.log
tar czf $OUT/sanitize.tgz -C /tmp san
grep -E '^sanitize( [a-z]+  |: SKIPPED)|^rc=' $O/sanitize.log | tail -4
