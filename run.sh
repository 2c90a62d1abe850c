#!/usr/bin/env bash
# Fresh machine to first result: set up .venv, make sample iMaterialist data, convert it to COCO.
# Extra arguments go to the converter (e.g. ./run.sh --categories main --workers 2).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup_env.sh
data_root="${DATA_ROOT:-datasets/imaterialist_sample}"
num_images="${NUM_IMAGES:-200}"
if [ ! -f "$data_root/train.csv" ]; then
  python tools/make_sample_data.py --format imaterialist --output "$data_root" \
      --num-images "$num_images" --seed 0
fi
python tools/convert_imaterialist_to_coco.py --data-root "$data_root" --val-num 40 --check-images "$@"
echo
echo "Sample data:      $data_root/train, $data_root/train.csv, $data_root/label_descriptions.json"
echo "COCO annotations: $data_root/annotations/instances_train.json, instances_val.json"
