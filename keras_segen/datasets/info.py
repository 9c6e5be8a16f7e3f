"""What a loaded dataset is: class names, palette, tile size, sizes, provenance."""
import dataclasses
from typing import Any

import numpy as np

IGNORE_LABEL = 255


@dataclasses.dataclass
class DatasetInfo:
    name: str
    split: str
    num_examples: int
    image_shape: tuple  # (H, W, C); H/W may be None for variable-size data
    class_names: list = dataclasses.field(default_factory=list)
    palette: list = dataclasses.field(default_factory=list)  # [[r, g, b], ...] per class
    tile_size: int | None = None
    ignore_label: int = IGNORE_LABEL
    # For geographic data: one [lat_south, lat_north, lon_west, lon_east] row per example.
    bounds: np.ndarray | None = None
    license: str = ""
    description: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["bounds"] = None if self.bounds is None else np.asarray(self.bounds).tolist()
        return out
