#!/usr/bin/env bash
# The ×2 and ×3 standard networks trained on at SESR's budget on a lent accelerator that has JAX
# and no TensorFlow (`train.budget --backend jax`), side by side on its one GPU, in one call of
# the device tool. A short ×2 probe measures steps/s first; each run then gets the epochs that fit
# TRAIN_S seconds (SESR's 300 × 64 patches per image = 30 × 640 at most). Quantization-aware
# training and the int8 evaluation follow here, where TensorFlow is (docs/training.md).
#
#   python benchmarks/gpu_data.py       # .gpu/data: the training Y planes, small enough to carry
#   device run: bash benchmarks/gpu_budget.sh   (carry .gpu and .whl: keras, namex, optree wheels)
set -euo pipefail
TRAIN_S=${TRAIN_S:-330}
out=${OUT:-runs/gpu}
python=${PYTHON:-python3}
if [ -d .whl ]; then
    $python -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_MEM_FRACTION=0.3
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
budget() { $python -m train.budget --backend jax --tier standard --data .gpu/data --multiscale \
    --lr 5e-4 --patches-per-image 640 --overwrite "$@"; }
x2_init=benchmarks/checkpoints/x2-efficient/k5-16-sesr-plus120k/best.keras
x3_init=benchmarks/checkpoints/tiers/x3-k5-16/best.keras
budget --scale 2 --epochs 2 --init-from $x2_init --out /tmp/probe 2>&1 | tee /tmp/probe.log
rate=$(grep -o 'Epoch 2/2: [0-9,]* steps/s' /tmp/probe.log | grep -o '[0-9,]* steps' | tr -d ', steps')
steps_per_epoch=$(grep -o '= [0-9,]* steps' /tmp/probe.log | head -1 | tr -d '=, steps')
epochs=$(( rate * TRAIN_S / 2 / (steps_per_epoch / 2) ))
epochs=$(( epochs > 30 ? 30 : epochs < 1 ? 1 : epochs ))
echo "probe: $rate steps/s alone, ${steps_per_epoch} steps per 2 epochs: $epochs epochs each, side by side"
budget --scale 2 --epochs $epochs --init-from $x2_init --out "$out/x2" 2>&1 | sed -u 's/^/x2 /' &
budget --scale 3 --epochs $epochs --init-from $x3_init --out "$out/x3" 2>&1 | sed -u 's/^/x3 /' &
wait
rm -f "$out"/x*/last.keras  # the device tool brings back 8 files: best.keras, card and history
