#!/usr/bin/env bash
# Garment landmarks end to end on the CPU: sample FashionAI data -> one 24-keypoint SimplePose
# ResNet-18 from random weights -> NE per category -> landmark overlays -> per-category result
# files merged into one submission by image_id. About 3 minutes on two cores (held-out NE 48%
# in our run, from about 210% untrained).
#
# Real data, one model per category (as the FashionAI keypoint project did), e.g.:
#   DATA_ROOT=datasets/fashionai CATEGORY=blouse INPUT=256x192 EPOCHS=140 BATCH=32 \
#   CTX=gpu:0,gpu:1 scripts/run_keypoints.sh --network resnet50_v1b --flip-test
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh

data_root="${DATA_ROOT:-datasets/fashionai_sample}"
category="${CATEGORY:-all}"
save_dir="${SAVE_DIR:-runs/keypoints/sample_job}"

if [ ! -f "$data_root/Annotations/train.csv" ]; then
  python tools/make_sample_data.py --format fashionai --output "$data_root" \
      --num-images "${NUM_IMAGES:-280}" --image-size "${IMAGE_SIZE:-96x128}" --seed 0
fi
python train_keypoints.py --category "$category" --network resnet18_v1b \
    --data-root "$data_root" --input-size "${INPUT:-96x64}" --val-ratio 0.15 \
    --batch-size "${BATCH:-8}" --epochs "${EPOCHS:-6}" --lr "${LR:-0.002}" \
    --ctx "${CTX:-cpu}" --workers "${WORKERS:-1}" --val-interval 3 --save-dir "$save_dir" \
    --flip-test --no-progress "$@"
# a test list of every sample image; a per-category model predicts its own rows
python - "$data_root" "$save_dir/test.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(f"{sys.argv[1]}/Annotations/train.csv")))
csv.writer(open(sys.argv[2], "w", newline="")).writerows(r[:2] for r in rows)
PY
python tools/predict_keypoints.py --checkpoint "$save_dir/checkpoint_best.ckpt" \
    --test-csv "$save_dir/test.csv" --data-root "$data_root" --output "$save_dir/predictions" \
    --flip-test --no-progress 2>&1 | tail -n 1
python tools/fashionai_submission.py --results "$save_dir/predictions/keypoints.csv" \
    --test-csv "$save_dir/test.csv" --output "$save_dir/submission.csv" 2>&1 | tail -n 1

echo
echo "Checkpoints:        $save_dir/checkpoint_best.ckpt, checkpoint_last.ckpt, model_best.params"
echo "Metrics and curves: $save_dir/metrics.jsonl, $save_dir/metrics.png, $save_dir/train.log"
echo "Predictions:        $save_dir/predictions/*_keypoints.jpg, keypoints.csv"
echo "Submission:         $save_dir/submission.csv"
