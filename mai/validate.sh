#!/bin/sh
# Evaluate the checkpoints of mai/train.sh on FashionMT's final turn (fashionmt.final_turn):
# writes $OUT/<dataset>/test/metrics.json and predictions.json. Same variables as mai/train.sh.
set -eu
cd "$(dirname "$0")/.."
NPROC=${NPROC:-1}
DATA_ROOT=${DATA_ROOT:-datasets/synthetic}
OUT=${OUT:-outputs/mai}
DATASETS=${DATASETS:-"fc 200k"}
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
LAUNCH="$PYTHON -m torch.distributed.run --standalone --nproc_per_node=$NPROC"
for DATASET in $DATASETS; do
  # shellcheck disable=SC2086
  $LAUNCH mai/run/test.py \
    --dataset "$DATASET" --data-root "$DATA_ROOT" --model-dir "$OUT/$DATASET/train" --output-dir "$OUT/$DATASET/test"
done
