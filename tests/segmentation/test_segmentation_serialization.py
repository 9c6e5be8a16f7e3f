"""Every segmentation model survives a .keras save/load with identical predictions."""
import numpy as np
import keras
import pytest

from segmentation_cases import TINY_CASES

# The ResNet-50 case has the same layer types as the ResNet-18 one and is slow to reload.
ROUND_TRIP_CASES = sorted(c for c in TINY_CASES if c != "deeplabv3plus_os8_r50")


@pytest.mark.parametrize("case", ROUND_TRIP_CASES)
def test_keras_file_round_trip(case, tiny_model, images, tmp_path):
    model = tiny_model(case)
    x = images(24, 40, seed=1)
    path = str(tmp_path / f"{case}.keras")
    model.save(path)
    restored = keras.saving.load_model(path)  # safe_mode=True: no lambdas, registered layers
    # Eager calls in inference mode: no tf.function tracing, which dominates at these sizes.
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), atol=1e-6)
    assert restored.name == model.name
