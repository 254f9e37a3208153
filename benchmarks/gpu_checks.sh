#!/bin/bash
# The GPU checks of issue 16, as one script for a machine with a CUDA GPU:
# the CUDA-only tests, the whole suite with device="auto" resolving to CUDA,
# speed.py and scaling.py on CUDA. Figures go to stdout and to $OUT (default
# ./gpu-checks); docs/benchmarks.md ("On a GPU") has the last run's.
#
#   ADBENCH_DIR=/path/to/adbench-dev bash benchmarks/gpu_checks.sh
#
# Each step has its own time limit, so that a short lease still brings back
# the steps before the one that ran out. PyOD's detectors join the speed and
# scaling tables where PyOD is installed.
set -u
OUT=${OUT:-gpu-checks}
export PYTHONUNBUFFERED=1
run() {  # run NAME SECONDS COMMAND...: log to $OUT/NAME.log, print its tail
    local name=$1 seconds=$2
    shift 2
    echo "== $name ($(date +%T))"
    timeout "$seconds" "$@" >"$OUT/$name.log" 2>&1
    echo "rc=$?" >>"$OUT/$name.log"
    tail -n 25 "$OUT/$name.log"
}
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU here'; \
print('torch', torch.__version__, torch.cuda.get_device_name())" || exit 1
mkdir -p "$OUT"
# pytest-xdist, where installed, spreads the suite over 8 processes sharing the GPU.
workers=$(python3 -c "import xdist; print('-n 8')" 2>/dev/null)
run tests_cuda 120 python3 -m pytest -q -p no:randomly -p no:cacheprovider -rs \
    tests/test_device.py tests/test_persistence.py
run suite 300 python3 -m pytest -q -p no:randomly -p no:cacheprovider $workers tests
run speed 200 python3 benchmarks/speed.py --device cuda --threads 1 --rounds 3 \
    --json "$OUT/speed.json"
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
    run scaling 400 python3 benchmarks/scaling.py --param device=cuda --ae-max-rows 10000 \
    --plot "$OUT/scaling_cuda.png" --json "$OUT/scaling.json"
