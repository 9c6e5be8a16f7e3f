"""Sample-picture callbacks: fixed-seed grids, VAE reconstructions and traversals,
pix2pix triplets."""
import numpy as np
import pytest
from PIL import Image

import keras_segen
from keras_segen.callbacks.samples import Pix2PixTriplets, SampleGrid, VAEReconstructions


def _run_epochs(callback, model, epochs):
    callback.set_model(model)
    for epoch in range(epochs):
        callback.on_epoch_end(epoch)


def _pixels(path):
    return np.asarray(Image.open(path))


def test_sample_grid_writes_the_same_grid_for_an_unchanged_model(tmp_path):
    model = keras_segen.build("dcgan", latent_dim=8, base_filters=4, seed=0)
    callback = SampleGrid(tmp_path, num_images=4, seed=5, every=2, scale=1)
    _run_epochs(callback, model, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_002.png", "epoch_004.png"]
    assert callback.last_path == tmp_path / "epoch_004.png"
    first, second = _pixels(tmp_path / "epoch_002.png"), _pixels(tmp_path / "epoch_004.png")
    assert first.shape == (2 * 30 + 2, 2 * 30 + 2)
    np.testing.assert_array_equal(first, second)  # fixed seed: only training changes it


def test_sample_grid_of_a_conditional_model_has_one_row_per_class(tmp_path):
    model = keras_segen.build("cgan", latent_dim=8, base_filters=4, embedding_dim=4,
                              num_classes=3, seed=0)
    callback = SampleGrid(tmp_path, num_images=6, seed=0, scale=1)
    _run_epochs(callback, model, 1)
    grid = _pixels(tmp_path / "epoch_001.png")
    assert grid.shape == (3 * 30 + 2, 2 * 30 + 2)  # 3 classes x 2 images
    rows = model.generate(6, seed=0, labels=[0, 0, 1, 1, 2, 2])
    expected = np.round(np.clip(rows[2, :, :, 0], 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(grid[32:60, 2:30], expected)  # row 2 holds class 1


def test_sample_grid_for_one_label_and_bad_label(tmp_path):
    model = keras_segen.build("cgan", latent_dim=8, base_filters=4, embedding_dim=4,
                              num_classes=3, seed=0)
    _run_epochs(SampleGrid(tmp_path, num_images=2, label=1), model, 1)
    assert (tmp_path / "epoch_001.png").is_file()
    with pytest.raises(ValueError, match="out of range"):
        _run_epochs(SampleGrid(tmp_path, num_images=2, label=3), model, 1)


@pytest.mark.parametrize("arch", ["vae", "cvae"])
def test_vae_reconstructions_and_traversal(tmp_path, arch):
    model = keras_segen.build(arch, latent_dim=3, base_filters=4, hidden_units=8, seed=0)
    images = np.random.default_rng(0).random((5, 28, 28, 1)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 4]) if arch == "cvae" else None
    callback = VAEReconstructions(images, tmp_path, labels=labels, columns=4,
                                  traversal_dims=8, traversal_steps=5, scale=1)
    _run_epochs(callback, model, 1)
    grid = _pixels(tmp_path / "epoch_001.png")
    assert grid.shape == (4 * 30 + 2, 4 * 30 + 2)  # originals / reconstructions, 2 times
    original = np.round(images[0, :, :, 0] * 255).astype(np.uint8)
    np.testing.assert_array_equal(grid[2:30, 2:30], original)
    traversal = _pixels(callback.traversal_path)
    assert callback.traversal_path.name == "traversal_epoch_001.png"
    assert traversal.shape == (3 * 30 + 2, 5 * 30 + 2)  # latent_dim (3) rows x 5 steps
    assert not np.array_equal(traversal[2:30, 2:30], traversal[2:30, 122:150])


def test_vae_reconstructions_check_their_inputs(tmp_path):
    with pytest.raises(ValueError, match=r"images \[N, H, W, C\]"):
        VAEReconstructions(np.zeros((28, 28)), tmp_path)
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        VAEReconstructions(np.zeros((2, 28, 28, 1)), tmp_path, labels=[0, 1, 2])


def test_pix2pix_triplets(tmp_path):
    model = keras_segen.build("pix2pix", image_shape=(16, 16, 3), base_filters=4,
                              discriminator_depth=2, seed=0)
    masks = np.zeros((2, 16, 16), int)
    masks[:, :, 8:] = 1
    conditions = np.eye(3, dtype=np.float32)[masks]
    targets = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    palette = [[0, 0, 255], [0, 255, 0], [255, 255, 255]]
    callback = Pix2PixTriplets(conditions, targets, tmp_path, palette=palette, scale=1)
    _run_epochs(callback, model, 1)
    grid = _pixels(tmp_path / "epoch_001.png")
    assert grid.shape == (2 * 18 + 2, 3 * 18 + 2, 3)
    np.testing.assert_array_equal(grid[2, 2], [0, 0, 255])  # ocean half of the mask
    np.testing.assert_array_equal(grid[2, 17], [0, 255, 0])  # land half
    output = np.round(model.translate(conditions[:1])[0] * 255).astype(np.uint8)
    # A batch of 1 here, of 2 in the callback: oneDNN may round the floats 1 ulp apart,
    # which moves a value sitting near .5 to the next uint8 step.
    np.testing.assert_allclose(grid[2:18, 38:54].astype(int), output.astype(int), rtol=0, atol=1)
    with pytest.raises(ValueError, match="one length"):
        Pix2PixTriplets(conditions, targets[:1], tmp_path)
