#!/usr/bin/env bash
# The main job: train the U-Net recipe on the bundled Blue Marble tiles for a short CPU
# budget, evaluate on the held-out test tiles and whole regions, write predicted mask
# overlays, print metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY="${PYTHON:-python3}"
OUT="${OUT:-runs/unet_bluemarble}"
BUDGET="${BUDGET:-600}"   # seconds of training
keras-segen train unet_bluemarble --out "$OUT" --time-budget "$BUDGET"
"$PY" scripts/write_test_regions.py --out "$OUT/test_regions"
keras-segen predict "$OUT" "$OUT"/test_regions/*.png --out "$OUT/predictions"
keras-segen evaluate "$OUT" --split test --json "$OUT/test_metrics.json"
keras-segen evaluate "$OUT" --split test --protocol regions --json "$OUT/test_regions_metrics.json"
echo "overlays: $OUT/predictions (test regions), $OUT/overlays (val tiles per epoch)"
