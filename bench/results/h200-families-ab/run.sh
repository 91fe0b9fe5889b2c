#!/usr/bin/env bash
# Device runs: `run.sh tests` runs the [gpu] tests of the new build; `run.sh bench N` runs
# fp8jit bench of the old (7dff9bf) and the new build one after the other as pass N.
set -uo pipefail
cd "$(dirname "$0")"
nvidia-smi --query-gpu=name,driver_version,memory.total,uuid --format=csv,noheader > $OUT/device.txt 2>&1
cat $OUT/device.txt
for step in "$@"; do
  case $step in
    tests)
      export FP8JIT_CACHE_DIR=/tmp/fp8jit-cache-new
      SECONDS=0; timeout 200 new/tests/fp8jit_tests "[gpu]~[slow]" --durations yes > $OUT/gpu-tests.log 2>&1
      echo "gpu tests rc=$? in ${SECONDS}s"; tail -4 $OUT/gpu-tests.log ;;
    bench*)
      pass=${step#bench}
      for v in old new; do
        SECONDS=0
        FP8JIT_CACHE_DIR=/tmp/fp8jit-cache-$v timeout 170 $v/fp8jit bench --m 1,16,64,256,1024,4096,8192 --csv $OUT/bench-$v-$pass.csv > $OUT/bench-$v-$pass.log 2>&1
        echo "bench $v pass $pass rc=$? in ${SECONDS}s"; grep -iE "geomean|copy bandwidth|inaccurate|error" $OUT/bench-$v-$pass.log | head -12
      done ;;
  esac
done
