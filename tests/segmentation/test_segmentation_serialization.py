"""The U-Net option variant survives a .keras save/load with identical predictions (every
architecture's .keras round trip with optimizer state is in tests/test_architectures.py)."""
import numpy as np
import keras


def test_group_norm_bilinear_unet_keras_file_round_trip(tiny_model, images, tmp_path):
    model = tiny_model("unet_bilinear_group")  # GroupNormalization, UpSampling2D, dropout
    x = images(24, 40, seed=1)
    path = str(tmp_path / "unet_bilinear_group.keras")
    model.save(path)
    restored = keras.saving.load_model(path)  # safe_mode=True: no lambdas, registered layers
    # Eager calls in inference mode: the same computation twice, equal up to rounding.
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), atol=1e-6)
    assert restored.name == model.name
