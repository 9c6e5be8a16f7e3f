"""Run a SavedModel's SignatureDefs as TF Serving runs them: the TF1 loader (tag
``serve``) in a fresh graph and session, feeds and fetches by the tensor names the
SignatureDef gives. Imports only numpy and TensorFlow (served_check.py uses it in a
process without Keras)."""
import numpy as np
import tensorflow as tf


def request_inputs(request) -> dict:
    """A ``PredictRequest``'s inputs as numpy arrays (``tf.make_ndarray``, as the server
    turns the protos into tensors)."""
    return {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}


class ServedModel:
    """One export loaded with the TF1 loader; ``run`` feeds a signature."""

    def __init__(self, path):
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default():
            self.meta = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], str(path))

    def run(self, signature_name, inputs, output_filter=(), check_shapes=True) -> dict:
        """``{output: array}`` of ``signature_name`` for ``{input: array}``.

        ``output_filter``: fetch only these outputs (a PredictRequest's field).
        ``check_shapes=False`` feeds as the C++ server does, without checking the arrays
        against the signature's shapes (Python's Session.run refuses, e.g., a scalar for
        a ``[None]`` input before the graph sees it).
        """
        signature = self.meta.signature_def[signature_name]
        if set(inputs) != set(signature.inputs):
            raise KeyError(f"inputs {sorted(inputs)} != {sorted(signature.inputs)}")
        names = list(output_filter) or sorted(signature.outputs)
        tensor = self.graph.get_tensor_by_name
        feeds = {tensor(signature.inputs[k].name): np.asarray(v) for k, v in inputs.items()}
        fetches = [tensor(signature.outputs[name].name) for name in names]
        if check_shapes:
            values = self.session.run(fetches, feeds)
        else:
            values = self.session._call_tf_sessionrun(
                None,
                {t._as_tf_output(): value for t, value in feeds.items()},
                [t._as_tf_output() for t in fetches],
                [],
                None,
            )
        return dict(zip(names, values))

    def close(self):
        self.session.close()
