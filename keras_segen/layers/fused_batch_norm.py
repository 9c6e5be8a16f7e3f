"""``FusedBatchNormalization``: Keras' BatchNormalization whose training step is one fused
TensorFlow kernel.

Keras 3 computes batch statistics with ``ops.moments`` and normalizes with separate Mul /
Sub / Add ops; their gradients are as many again, plus Tile and Sum for the broadcasts.
In the zoo U-Net's training step that was about a quarter of the op time
(``benchmarks/training_profile.py``). ``tf.compat.v1.nn.fused_batch_norm`` does the
statistics, the normalization and (through FusedBatchNormGradV3) the gradient each in one
oneDNN kernel, in float32 or straight from bfloat16 activations.

Everything else is Keras' layer: the same variables, config, inference path and
serialization (the class is a subclass, so ``serving.folding`` folds it and
``training.distribution`` can switch it to synchronized statistics, which take Keras'
path). The fused path is taken only where it computes exactly what Keras does: training
mode, TensorFlow backend, a 4-D channels-last input, no mask, no renorm, not
synchronized. The moving variance uses the biased batch variance, as Keras does (the
fused kernel returns the Bessel-corrected one).
"""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_segen")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` with a fused training step (see the module)."""

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable and self._fusable(inputs, mask)):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        channels = inputs.shape[-1]
        gamma = self.gamma if self.scale else tf.ones([channels], "float32")
        beta = self.beta if self.center else tf.zeros([channels], "float32")
        outputs, mean, corrected_variance, *_ = tf.compat.v1.nn.fused_batch_norm(
            inputs, ops.cast(gamma, "float32"), ops.cast(beta, "float32"),
            epsilon=self.epsilon, data_format="NHWC", is_training=True)
        count = ops.cast(ops.prod(ops.shape(inputs)[:-1]), "float32")
        variance = corrected_variance * (count - 1.0) / ops.maximum(count, 1.0)
        self.moving_mean.assign(self.moving_mean * self.momentum
                                + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum
                                    + variance * (1.0 - self.momentum))
        return ops.cast(outputs, self.compute_dtype)

    def _fusable(self, inputs, mask):
        return (keras.backend.backend() == "tensorflow" and mask is None
                and not self.renorm and not self.synchronized
                and len(inputs.shape) == 4 and self.axis in (-1, 3)
                and keras.backend.standardize_dtype(inputs.dtype)
                in ("float32", "bfloat16", "float16"))
