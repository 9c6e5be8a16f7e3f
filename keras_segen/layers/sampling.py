"""Reparameterization sampling for variational autoencoders, and the replica-safe
random draws it and the GANs' train steps share."""
import keras
import tensorflow as tf
from keras import ops


# Keras' TF backend folds int64 seeds into int32 with floormod(seed, int32.max - 1).
SEED_MODULUS = 2**31 - 2


def fold_seed(seed):
    """An integer seed tensor -> int32, folded the way ``keras.random`` folds it."""
    return tf.cast(tf.math.floormod(tf.cast(seed, tf.int64), SEED_MODULUS), tf.int32)


def draw_for_this_replica(seed_generator, stateless_sampler, shape, dtype="float32"):
    """``stateless_sampler`` numbers of ``shape`` (``tf.random.stateless_normal`` /
    ``stateless_uniform``) from ``seed_generator``, the same on any number of replicas.

    On one device: one draw, advancing the generator once (what ``keras.random.normal(
    shape, seed=seed_generator)`` draws). Under a ``tf.distribute`` strategy every
    replica draws the noise of the whole global batch from one seed and keeps its own
    rows: replicas get different noise, and the step draws what a one-device step on
    the global batch draws. The replicas' steps are traced in threads of their own; rather
    than have each read and advance the shared seed state and rely on the order of those
    reads and writes, ``merge_call`` reads and advances it once, with every replica
    waiting, and hands all of them the same seed.
    """
    context = tf.distribute.get_replica_context()
    replicas = 1 if context is None else context.num_replicas_in_sync
    if replicas == 1:
        seed = seed_generator.next()
    else:
        seed = context.merge_call(lambda _: seed_generator.next())
    # What keras.random does with a SeedGenerator's int64 state on TensorFlow.
    seed = fold_seed(seed)
    rows = shape[0]
    everything = stateless_sampler((rows * replicas, *shape[1:]), seed=seed, dtype=dtype)
    if replicas == 1:
        return everything
    start = rows * context.replica_id_in_sync_group
    return everything[start : start + rows]


@keras.saving.register_keras_serializable(package="keras_segen")
class Sampling(keras.layers.Layer):
    """Draws ``z = z_mean + exp(z_log_var / 2) * eps`` with ``eps ~ N(0, I)``.

    The noise comes from this layer's own ``keras.random.SeedGenerator`` (created here,
    in ``__init__``, so it is a tracked variable that works inside compiled train steps
    and is saved with the model). Under a ``tf.distribute`` strategy each replica draws
    the global batch's noise from one seed and keeps its own rows (different noise per
    replica, the same noise as one device): ``draw_for_this_replica``.

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
        return draw_for_this_replica(self.seed_generator, tf.random.stateless_normal, shape,
                                     self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed})
        return config
