"""Masks from a TF Serving container serving a keras_segen segmentation export.

    python examples/serving_client.py tile.png [more.png ...]

asks the server over gRPC (port 8500) and REST (port 8501), through both signatures,
and prints the masks' shape and how many pixels each class got. Needs
``tensorflow-serving-api`` (with ``grpcio``), TensorFlow, numpy and Pillow.
"""
import base64
import json
import sys
import urllib.request

import numpy as np
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import predict_pb2

MODEL = "unet_bluemarble"  # the server's MODEL_NAME


def images_request(images, model=MODEL):
    """gRPC request for ``serving_default``: uint8 RGB images ``[N, H, W, 3]``."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = "serving_default"
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(np.asarray(images, np.uint8)))
    return request


def bytes_request(files, model=MODEL):
    """gRPC request for ``predict_bytes``: encoded files (PNG, JPEG, ...) as they are,
    decoded by the server exactly as ``keras-segen predict`` decodes them."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = "predict_bytes"
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto(list(files), dtype=tf.string))
    request.output_filter.append("masks")  # skips computing and sending probabilities
    return request


def images_body(images):
    """REST body for ``serving_default`` (row format: one image per instance)."""
    return {"signature_name": "serving_default",
            "instances": np.asarray(images, np.uint8).tolist()}


def bytes_body(files):
    """REST body for ``predict_bytes``: each file base64-encoded in a ``{"b64": ...}``."""
    return {"signature_name": "predict_bytes",
            "instances": [{"image_bytes": {"b64": base64.b64encode(data).decode("ascii")}}
                          for data in files]}


def grpc_masks(request, target="localhost:8500"):
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=60.0)
    return tf.make_ndarray(response.outputs["masks"])


def rest_masks(body, url=f"http://localhost:8501/v1/models/{MODEL}:predict"):
    data = json.dumps(body).encode()
    post = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(post, timeout=60.0) as reply:
        predictions = json.load(reply)["predictions"]  # one {output: value} per image
    return np.array([prediction["masks"] for prediction in predictions], np.int32)


def main(paths):
    for path in paths:
        with open(path, "rb") as file:
            data = file.read()
        # serving_default takes pixels: PIL's RGB matches the server's decoding for
        # 8-bit files (predict_bytes also reads 16-bit ones right).
        images = np.asarray(Image.open(path).convert("RGB"))[None]
        masks = {
            "gRPC serving_default": grpc_masks(images_request(images)),
            "gRPC predict_bytes": grpc_masks(bytes_request([data])),
            "REST serving_default": rest_masks(images_body(images)),
            "REST predict_bytes": rest_masks(bytes_body([data])),
        }
        for how, mask in masks.items():
            classes, counts = np.unique(mask, return_counts=True)
            print(f"{path} {how}: masks {mask.shape}, pixels per class "
                  f"{dict(zip(classes.tolist(), counts.tolist()))}")


if __name__ == "__main__":
    main(sys.argv[1:])
