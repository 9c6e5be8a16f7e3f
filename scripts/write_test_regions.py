"""Write a few whole test-split regions of the Blue Marble (384 x 384 px) as PNG files,
so the main job can run `keras-segen predict` on images it never trained on."""
import argparse
import pathlib

import numpy as np
from PIL import Image

from keras_segen.datasets import bluemarble


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=4)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    image, mask = bluemarble.globe()
    splits = bluemarble.block_splits()
    block = bluemarble.BLOCK
    candidates = []
    for row, col in zip(*np.nonzero(splits == "test")):
        region = mask[row * block:(row + 1) * block, col * block:(col + 1) * block]
        # the most mixed regions (all three classes, then most coast) make the best demo
        candidates.append(((region == 2).any(), min((region == 1).mean(), (region == 0).mean()), row, col))
    for has_lake, _, row, col in sorted(candidates, reverse=True)[: args.count]:
        lat = 90 - row * block * bluemarble.DEGREES_PER_PIXEL
        lon = -180 + col * block * bluemarble.DEGREES_PER_PIXEL
        name = f"test_region_lat{lat:+.0f}_lon{lon:+.0f}.png"
        crop = image[row * block:(row + 1) * block, col * block:(col + 1) * block]
        Image.fromarray(crop).save(out / name)
        print(out / name)


if __name__ == "__main__":
    main()
