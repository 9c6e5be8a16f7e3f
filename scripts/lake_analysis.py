"""Where a Blue Marble segmenter loses the lake class on the test split.

Prints the test confusion matrix and per-class IoU four ways: predicting each 64 px tile
on its own (how ``evaluate`` scores) or each whole 384 px block at once (6x the context),
with and without the Caspian Sea's pixels (labelled lake, 36-48 N, 46-56 E).

    python scripts/lake_analysis.py [MODEL]    # zoo name, run folder or .keras (default unet_bluemarble)

The "oracle" comparison in the README trains the zoo recipe on the test regions:
    python -c "import json; r = json.load(open('zoo/recipes/unet_bluemarble.json')); \\
        r['dataset'].update(train_split='test', val_split='test'); \\
        json.dump(r, open('/tmp/oracle.json', 'w'))"
    keras-segen train /tmp/oracle.json --out runs/oracle && python scripts/lake_analysis.py runs/oracle
"""
import argparse

import numpy as np

CASPIAN = {"lat": (36.0, 48.0), "lon": (46.0, 56.0)}


def iou(confusion):
    intersection = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - intersection
    return intersection / np.maximum(union, 1)


def block_predictions(model, image):
    """(per-tile prediction, whole-block prediction) of one 384 px block."""
    from keras_segen.datasets import bluemarble

    per_side = bluemarble.BLOCK // 64
    tiles = image.reshape(per_side, 64, per_side, 64, 3).swapaxes(1, 2).reshape(-1, 64, 64, 3)
    tiled = model.predict_on_batch(tiles).argmax(-1)
    tiled = tiled.reshape(per_side, per_side, 64, 64).swapaxes(1, 2).reshape(bluemarble.BLOCK,
                                                                              bluemarble.BLOCK)
    whole = model.predict_on_batch(image[None])[0].argmax(-1)
    return tiled, whole


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", default="unet_bluemarble")
    args = parser.parse_args(argv)

    from keras_segen.model_lookup import load_trained
    from keras_segen.datasets import bluemarble

    model, _ = load_trained(args.model)
    image, mask = bluemarble.globe()
    splits, size = bluemarble.block_splits(), bluemarble.BLOCK
    confusion = {key: np.zeros((3, 3), np.int64)
                 for key in ("tile", "block", "tile, no Caspian", "block, no Caspian")}
    caspian_lake = 0
    for row in range(bluemarble.GRID_ROWS):
        for col in range(bluemarble.GRID_COLS):
            if splits[row, col] != "test":
                continue
            window = np.s_[row * size:(row + 1) * size, col * size:(col + 1) * size]
            truth = mask[window]
            tiled, whole = block_predictions(model, image[window].astype("float32") / 255.0)
            lat = 90.0 - (row * size + np.arange(size)) * bluemarble.DEGREES_PER_PIXEL
            lon = -180.0 + (col * size + np.arange(size)) * bluemarble.DEGREES_PER_PIXEL
            caspian = ((lat[:, None] > CASPIAN["lat"][0]) & (lat[:, None] < CASPIAN["lat"][1])
                       & (lon[None] > CASPIAN["lon"][0]) & (lon[None] < CASPIAN["lon"][1])
                       & (truth == 2))
            caspian_lake += int(caspian.sum())
            for name, predicted in (("tile", tiled), ("block", whole)):
                np.add.at(confusion[name], (truth.ravel(), predicted.ravel()), 1)
                keep = ~caspian
                np.add.at(confusion[f"{name}, no Caspian"], (truth[keep], predicted[keep]), 1)
    lake_total = int(confusion["tile"][2].sum())
    print(f"{args.model}: test lake pixels {lake_total}, of them Caspian {caspian_lake} "
          f"({caspian_lake / lake_total:.0%})")
    print("confusion (rows truth ocean/land/lake, columns predicted), per tile:")
    print(confusion["tile"])
    print(f"{'scored':20s} {'mIoU':>7s} {'ocean':>7s} {'land':>7s} {'lake':>7s} {'pix acc':>8s}")
    for name, matrix in confusion.items():
        scores = iou(matrix)
        print(f"{name:20s} {scores.mean():7.4f} {scores[0]:7.4f} {scores[1]:7.4f} "
              f"{scores[2]:7.4f} {np.trace(matrix) / matrix.sum():8.4f}")


if __name__ == "__main__":
    main()
