"""One decoding rule: ``keras-segen predict`` (PIL) and the exported ``predict_bytes``
(TensorFlow ops) read every image file to the same uint8 RGB pixels, hence the same masks;
images over PIL's size limit are refused naming their size."""
import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from serving_cases import assert_masks_match

import keras
import keras_segen
from keras_segen import cli, image_decoding
from keras_segen.image_decoding import MAX_PIXELS_ENV, decode_rgb, decode_rgb_tf
from keras_segen.inference import predict_mask, read_rgb

SIZE = (19, 26)  # (H, W)


def _rgb(seed=0):
    rng = np.random.default_rng(seed)
    smooth = np.add.outer(np.arange(SIZE[0]) * 9, np.arange(SIZE[1]) * 7)[..., None]
    noise = rng.integers(0, 64, (*SIZE, 3))
    return ((smooth * np.array([1, 2, 3]) + noise) % 256).astype(np.uint8)


def _gray16():
    rng = np.random.default_rng(1)
    return rng.integers(0, 65536, SIZE, dtype=np.uint16)  # mostly above 255


def _save(image, path, **options):
    image.save(path, **options)
    return path


def _png16(array, path):
    path.write_bytes(tf.io.encode_png(tf.constant(array)).numpy())
    return path


# Each writes one real file of a mode the rule covers.
FILES = {
    "gray8.png": lambda p: _save(Image.fromarray(_rgb()[..., 0]), p),
    "gray16.png": lambda p: _save(Image.fromarray(_gray16()), p),  # PIL mode I;16
    "gray2bit.png": lambda p: _save(Image.fromarray(_rgb()[..., 0] // 64 * 85), p, bits=2),
    "gray_alpha.png": lambda p: _save(Image.fromarray(_rgb()[..., :2], mode="LA"), p),
    "rgba.png": lambda p: _save(Image.fromarray(np.dstack([_rgb(), _rgb(2)[..., 0]])), p),
    "rgb16.png": lambda p: _png16(np.random.default_rng(3).integers(
        0, 65536, (*SIZE, 3), dtype=np.uint16), p),
    "palette.png": lambda p: _save(
        Image.fromarray(_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=12), p,
        transparency=0),
    "rgb.jpg": lambda p: _save(Image.fromarray(_rgb()), p, quality=90),
    "gray.jpg": lambda p: _save(Image.fromarray(_rgb()[..., 1]), p),
    "cmyk.jpg": lambda p: _save(Image.fromarray(_rgb()).convert("CMYK"), p),
    "palette.gif": lambda p: _save(Image.fromarray(_rgb()).convert("P"), p),
    "rgb.bmp": lambda p: _save(Image.fromarray(_rgb()), p),
    "rgb.webp": lambda p: _save(Image.fromarray(_rgb()), p, quality=80),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("decoding")
    return {name: write(folder / name) for name, write in FILES.items()}


@pytest.mark.parametrize("name", sorted(FILES))
def test_predict_and_predict_bytes_read_the_same_pixels(files, name):
    path = files[name]
    by_pil = decode_rgb(path)
    by_tf = decode_rgb_tf(tf.constant(path.read_bytes())).numpy()
    assert by_pil.shape == (*SIZE, 3) and by_pil.dtype == np.uint8
    np.testing.assert_array_equal(by_pil, by_tf)


def test_16_bit_gray_keeps_the_high_byte_instead_of_washing_out(files):
    pixels = read_rgb(files["gray16.png"])
    expected = (_gray16() >> 8).astype(np.uint8)
    for channel in range(3):
        np.testing.assert_array_equal(pixels[..., channel], expected)
    assert (pixels == 255).mean() < 0.01  # PIL's convert("RGB") made 99% of them 255


@pytest.fixture(scope="module")
def unet(architecture_exports):
    model, path = architecture_exports.get("unet")
    return model, tf.saved_model.load(str(path)).signatures["predict_bytes"]


@pytest.mark.parametrize("name", ["gray16.png", "palette.png", "rgba.png", "rgb.jpg"])
def test_predict_and_predict_bytes_give_the_same_masks(files, unet, name):
    model, predict_bytes = unet
    pixels = read_rgb(files[name])
    mask = predict_mask(model, pixels)  # what keras-segen predict writes
    logits = np.asarray(model.predict_on_batch(pixels[None].astype(np.float32) / 255.0))
    served = predict_bytes(image_bytes=tf.constant([files[name].read_bytes()]))["masks"]
    np.testing.assert_array_equal(mask, logits[0].argmax(-1))
    assert_masks_match(served.numpy(), logits)  # the same masks, up to float near-ties


def test_pixels_without_an_8_bit_reading_are_refused(tmp_path):
    floats = _save(Image.fromarray(np.ones(SIZE, np.float32)), tmp_path / "f.tif")
    with pytest.raises(ValueError, match=r"f\.tif: floating-point pixels"):
        read_rgb(floats)
    wide = _save(Image.fromarray(np.full(SIZE, 70000, np.int32)), tmp_path / "i.tif")
    with pytest.raises(ValueError, match=r"i\.tif: 32-bit integer pixels"):
        read_rgb(wide)


# --- PIL's decompression-bomb limit --------------------------------------------------


@pytest.fixture
def big(tmp_path):
    """A real 40x30 PNG (1200 pixels); the tests lower PIL's limit below it."""
    return _save(Image.fromarray(np.zeros((30, 40, 3), np.uint8)), tmp_path / "big.png")


@pytest.mark.parametrize("limit", [1000, 500])  # PIL warns up to twice its limit, then raises
def test_an_image_over_the_limit_is_refused_with_its_size(big, monkeypatch, limit):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    monkeypatch.delenv(MAX_PIXELS_ENV, raising=False)
    with pytest.raises(ValueError) as err:
        read_rgb(big)
    message = str(err.value)
    for part in (str(big), "40x30", f"limit of {limit} pixels", MAX_PIXELS_ENV):
        assert part in message
    assert "\n" not in message


def test_the_environment_variable_raises_the_limit(big, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    monkeypatch.setenv(MAX_PIXELS_ENV, "5000")
    assert read_rgb(big).shape == (30, 40, 3)
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.raises(ValueError, match=MAX_PIXELS_ENV):
        image_decoding.max_image_pixels()


def test_predict_refuses_it_with_one_line_and_exit_2(big, tmp_path, monkeypatch, capsys):
    keras.utils.set_random_seed(0)
    model = keras_segen.build("unet", input_shape=(None, None, 3), num_classes=2, depth=2,
                              base_filters=4)
    model.save(tmp_path / "tiny.keras")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    monkeypatch.delenv(MAX_PIXELS_ENV, raising=False)
    code = cli.main(["predict", str(tmp_path / "tiny.keras"), str(big),
                     "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("keras-segen predict: error: image ") and "40x30" in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_bytes_in_memory_follow_the_rule_too():
    """``to_rgb`` is the rule for an already opened PIL image."""
    buffer = io.BytesIO()
    Image.fromarray(_gray16()).save(buffer, format="PNG")
    with Image.open(buffer) as image:
        pixels = image_decoding.to_rgb(image)
    np.testing.assert_array_equal(pixels[..., 2], (_gray16() >> 8).astype(np.uint8))
