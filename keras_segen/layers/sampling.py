"""Reparameterization sampling for variational autoencoders."""
import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="keras_segen")
class Sampling(keras.layers.Layer):
    """Draws ``z = z_mean + exp(z_log_var / 2) * eps`` with ``eps ~ N(0, I)``.

    The noise comes from this layer's own ``keras.random.SeedGenerator`` (created here,
    in ``__init__``, so it is a tracked variable that works inside compiled train steps
    and is saved with the model). Under a ``tf.distribute`` strategy every replica reads
    the same generator state, so each replica draws the global batch's noise and keeps
    its own rows (different noise per replica, the same noise as one device).

    Call with ``(z_mean, z_log_var)``; returns a tensor shaped like ``z_mean``. The layer
    computes in float32 by default so that sampling stays exact under mixed precision.
    """

    def __init__(self, seed=None, dtype="float32", **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # No weights to create: built from the start, so a model holding this layer
        # counts as fully built (Keras otherwise traces the model on an input batch
        # before a distributed fit, which a conditional model cannot take alone).
        self.built = True

    def call(self, inputs):
        z_mean, z_log_var = inputs
        z_mean = ops.cast(z_mean, self.compute_dtype)
        z_log_var = ops.cast(z_log_var, self.compute_dtype)
        epsilon = self._draw_normal(ops.shape(z_mean))
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def _draw_normal(self, shape):
        context = tf.distribute.get_replica_context()
        replicas = 1 if context is None else context.num_replicas_in_sync
        if replicas == 1:
            return keras.random.normal(
                shape, dtype=self.compute_dtype, seed=self.seed_generator
            )
        # Every replica draws the noise of the whole global batch from the shared seed
        # state and keeps its own rows: replicas get different noise, and the step
        # draws exactly what a one-device step on the global batch would.
        rows = shape[0]
        everything = keras.random.normal(
            (rows * replicas, *shape[1:]), dtype=self.compute_dtype, seed=self.seed_generator
        )
        start = rows * context.replica_id_in_sync_group
        return everything[start : start + rows]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed})
        return config
