"""The README's requests (examples/serving_client.py), pushed through the exported
SignatureDefs as TF Serving runs them (the TF1 loader, feeds by tensor name), answer what
the Keras model answers."""
import base64
import importlib.util
import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from serving_cases import assert_masks_match, png_batch, segmentation_answer
from v1_session import ServedModel, request_inputs

from keras_segen.serving.endpoints import endpoints_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "serving_client.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("serving_client", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


client = _load_example()


@pytest.fixture(scope="module")
def unet(architecture_exports):
    """The session's tiny U-Net export (tests/conftest.py), loaded as TF Serving loads it."""
    model, path = architecture_exports.get("unet")
    served = ServedModel(path)
    yield model, served
    served.close()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(7).integers(0, 256, (2, 19, 26, 3), dtype=np.uint8)


def assert_answers(model, images, outputs):
    expected, logits = segmentation_answer(model, images)
    assert_masks_match(outputs["masks"], logits)
    if "probabilities" in outputs:
        np.testing.assert_allclose(outputs["probabilities"], expected["probabilities"],
                                   rtol=1e-4, atol=1e-5)


# --- what TF Serving's REST front end does with a JSON body (its json_tensor rules) ---


def _is_b64(value):
    return isinstance(value, dict) and set(value) == {"b64"}


def _unwrap(value):
    """``{"b64": s}`` -> the bytes; lists recursively; other JSON values as they are."""
    if _is_b64(value):
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_unwrap(item) for item in value]
    return value


def rest_feeds(body, signature_def):
    """The tensors TF Serving feeds for a ``:predict`` body: row format (``instances``,
    batched along a new first axis) or columnar (``inputs``, each tensor as it is)."""
    names = sorted(signature_def.inputs)
    if "instances" in body:
        rows = body["instances"]
        if all(isinstance(row, dict) and not _is_b64(row) for row in rows):
            columns = {name: [row[name] for row in rows] for name in names}
        else:  # one named input: each instance is its value
            columns = {names[0]: rows}
    else:
        inputs = body["inputs"]
        named = isinstance(inputs, dict) and not _is_b64(inputs)
        columns = inputs if named else {names[0]: inputs}
    dtype = {name: tf.dtypes.as_dtype(signature_def.inputs[name].dtype) for name in names}
    return {name: np.array(_unwrap(value), dtype=dtype[name].as_numpy_dtype)
            for name, value in columns.items()}


def post(served, body, check_shapes=True):
    body = json.loads(json.dumps(body))  # exactly what goes over the wire
    signature = body.get("signature_name", "serving_default")
    feeds = rest_feeds(body, served.meta.signature_def[signature])
    return served.run(signature, feeds, check_shapes=check_shapes)


# --- the gRPC requests --------------------------------------------------------------


def test_grpc_serving_default_request(unet, images):
    model, served = unet
    request = client.images_request(images)
    assert request.model_spec.name == client.MODEL
    assert request.model_spec.signature_name == "serving_default"
    outputs = served.run("serving_default", request_inputs(request))
    assert outputs["masks"].shape == (2, 19, 26)
    assert_answers(model, images, outputs)


def test_grpc_predict_bytes_request_with_its_output_filter(unet, images):
    model, served = unet
    request = client.bytes_request(list(png_batch(images)))
    assert request.model_spec.signature_name == "predict_bytes"
    inputs = request_inputs(request)
    assert inputs["image_bytes"].shape == (2,) and inputs["image_bytes"].dtype == object
    outputs = served.run("predict_bytes", inputs, output_filter=request.output_filter)
    assert sorted(outputs) == ["masks"]
    assert_answers(model, images, outputs)


# --- the REST bodies ----------------------------------------------------------------


def test_rest_serving_default_body(unet, images):
    model, served = unet
    body = client.images_body(images)
    assert body["signature_name"] == "serving_default"
    assert_answers(model, images, post(served, body))


def test_rest_predict_bytes_body(unet, images):
    model, served = unet
    body = client.bytes_body(list(png_batch(images)))
    assert body["instances"][0]["image_bytes"]["b64"]  # {"image_bytes": {"b64": ...}}
    assert_answers(model, images, post(served, body))


def test_rest_columnar_bodies(unet, images):
    """``inputs`` instead of ``instances``: a list of files, or one scalar file."""
    model, served = unet
    files = [base64.b64encode(data).decode("ascii") for data in png_batch(images)]
    both = {"signature_name": "predict_bytes",
            "inputs": {"image_bytes": [{"b64": data} for data in files]}}
    assert_answers(model, images, post(served, both))
    one = {"signature_name": "predict_bytes", "inputs": {"image_bytes": {"b64": files[1]}}}
    outputs = post(served, one, check_shapes=False)  # a scalar, as the server feeds it
    assert outputs["masks"].shape == (1, 19, 26)
    assert_answers(model, images[1:], outputs)


# --- a scalar or a matrix of strings for predict_bytes -------------------------------


def test_a_scalar_string_is_a_batch_of_one(unet, images):
    model, served = unet
    png = png_batch(images[:1])[0]
    outputs = served.run("predict_bytes", {"image_bytes": np.array(png, dtype=object)},
                         check_shapes=False)
    assert outputs["masks"].shape == (1, 19, 26)
    assert_answers(model, images[:1], outputs)
    endpoint = {e.name: e for e in endpoints_for(model)}["predict_bytes"]
    eager = endpoint.fn(tf.constant(png))  # the Keras-level function
    assert tuple(eager["masks"].shape) == (1, 19, 26)


def test_more_dimensions_are_refused_naming_the_input(unet, images):
    model, served = unet
    grid = np.array([list(png_batch(images))], dtype=object)  # [1, 2]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"image_bytes .*shape \[N\]"):
        served.run("predict_bytes", {"image_bytes": grid}, check_shapes=False)
    endpoint = {e.name: e for e in endpoints_for(model)}["predict_bytes"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"image_bytes .*shape \[N\]"):
        endpoint.fn(tf.constant(grid))


# --- the README shows the example file as it is -------------------------------------


def test_the_readme_shows_the_example_client_verbatim():
    readme = (ROOT / "README.md").read_text()
    marker = ("<!-- examples/serving_client.py, verbatim "
              "(tests/serving/test_serving_requests.py) -->")
    assert readme.count(marker) == 1
    block = readme.split(marker, 1)[1].split("```python\n", 1)[1].split("\n```\n", 1)[0]
    assert block + "\n" == EXAMPLE.read_text()
