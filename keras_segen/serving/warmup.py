"""``assets.extra/tf_serving_warmup_requests``: one PredictRequest per signature.

TF Serving replays these records when it loads a version, before it reports the version
available, so the first real request does not pay for graph initialization. Format: a
TFRecord file of ``PredictionLog`` protos (tensorflow-serving-api), at most 1000 records.
"""
import pathlib

import numpy as np
import tensorflow as tf

from keras_segen.serving.endpoints import example_for, signature_names

WARMUP_FILE = "tf_serving_warmup_requests"


def predict_request(model_name, signature_name, inputs):
    """A ``PredictRequest`` for ``signature_name`` with numpy ``inputs``."""
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
    return request


def write_warmup_requests(version_dir, model_name, endpoints) -> pathlib.Path:
    """Write one warmup request per signature (default alias included); returns the file."""
    from tensorflow_serving.apis import prediction_log_pb2

    folder = pathlib.Path(version_dir) / "assets.extra"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / WARMUP_FILE
    with tf.io.TFRecordWriter(str(path)) as writer:
        for name in signature_names(endpoints):
            request = predict_request(model_name, name, example_for(endpoints, name))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(path):
    """The ``PredictRequest``s of a warmup file, in order."""
    from tensorflow_serving.apis import prediction_log_pb2

    requests = []
    for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        requests.append(prediction_log_pb2.PredictionLog.FromString(record).predict_log.request)
    return requests
