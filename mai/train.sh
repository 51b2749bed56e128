#!/bin/sh
# Train MAI (torchrun, gloo on CPU / nccl on GPU) on FashionMT: one run per DATASETS entry.
# Variables (defaults = the embedded default): NPROC=1 EPOCHS=30 LR=2e-3 BATCH_SIZE=8 DATA_ROOT=datasets/synthetic
# BACKBONE=synthetic-tiny OUT=outputs/mai DATASETS="fc 200k" PYTHON EXTRA_ARGS (e.g. "--blip-weights ... --vocab ...").
# The embedded default starts the Q-Former from the cached synthetic stage 1 (mai/run/stage1_pretrain.py).
# Real data: DATA_ROOT=datasets BACKBONE=pretrain EPOCHS=50 LR=1e-5 BATCH_SIZE=32 NPROC=8 \
#   EXTRA_ARGS="--blip-weights blip2_pretrained.pth --vit-weights eva_vit_g.pth --vocab bert-base-uncased/vocab.txt"
set -eu
cd "$(dirname "$0")/.."
NPROC=${NPROC:-1}
DATA_ROOT=${DATA_ROOT:-datasets/synthetic}
BACKBONE=${BACKBONE:-synthetic-tiny}
OUT=${OUT:-outputs/mai}
DATASETS=${DATASETS:-"fc 200k"}
EPOCHS=${EPOCHS:-30}
LR=${LR:-2e-3}
BATCH_SIZE=${BATCH_SIZE:-8}
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
EXTRA_ARGS=${EXTRA_ARGS:-}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
LAUNCH="$PYTHON -m torch.distributed.run --standalone --nproc_per_node=$NPROC"
if [ "$BACKBONE" = synthetic-tiny ]; then
  "$PYTHON" -c "from common.synthetic import ensure_synthetic; ensure_synthetic('$DATA_ROOT')"
  "$PYTHON" -c "from common.synthetic.tiny_clip import ensure_tiny_clip; ensure_tiny_clip()"
fi
for DATASET in $DATASETS; do
  # shellcheck disable=SC2086
  $LAUNCH mai/run/train_ddp.py \
    --dataset "$DATASET" --data-root "$DATA_ROOT" --backbone "$BACKBONE" --output-dir "$OUT/$DATASET/train" \
    --num-epochs "$EPOCHS" --learning-rate "$LR" --batch-size "$BATCH_SIZE" --validation-frequency "$EPOCHS" \
    $EXTRA_ARGS
done
