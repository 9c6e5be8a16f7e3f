"""Independent implementations that keras_segen's models are timed against.

U-Net and DCGAN are written here in plain Keras from the papers' descriptions (Ronneberger
et al. 2015; Radford et al. 2016, as in the keras.io DCGAN example) with exactly the layer
sizes of the keras_segen recipe they are compared with; DeepLabV3+ is keras-hub's
``DeepLabV3ImageSegmenter``. Nothing here imports keras_segen.
"""
import keras
import tensorflow as tf
from keras import layers


def plain_unet(input_shape, num_classes, depth=4, base_filters=16):
    """Conv-BN-ReLU x2 per level, 2x2 max-pool down, 2x2/2 transposed conv up, concat skip."""
    def double_conv(x, filters):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=0.9)(x)
            x = layers.ReLU()(x)
        return x

    inputs = keras.Input(input_shape)
    x, skips = inputs, []
    for level in range(depth):
        x = double_conv(x, base_filters * 2**level)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = double_conv(x, base_filters * 2**depth)
    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same")(x)
        x = layers.Concatenate()([x, skips[level]])
        x = double_conv(x, filters)
    return keras.Model(inputs, layers.Conv2D(num_classes, 1)(x), name="plain_unet")


def hub_deeplabv3(input_shape, num_classes, width=64, dilation_rates=(6, 12, 18)):
    """keras-hub DeepLabV3 (ASPP on the stride-16 P4 features, low-level P2 skip) on a
    keras-hub ResNet-18 (basic blocks, widths width*(1, 2, 4, 8))."""
    import keras_hub

    encoder = keras_hub.models.ResNetBackbone(
        input_conv_filters=[width], input_conv_kernel_sizes=[7],
        stackwise_num_filters=[width, 2 * width, 4 * width, 8 * width],
        stackwise_num_blocks=[2, 2, 2, 2], stackwise_num_strides=[1, 2, 2, 2],
        block_type="basic_block", image_shape=input_shape,
    )
    backbone = keras_hub.models.DeepLabV3Backbone(
        image_encoder=encoder, spatial_pyramid_pooling_key="P4", upsampling_size=4,
        dilation_rates=list(dilation_rates), low_level_feature_key="P2",
        projection_filters=48, image_shape=input_shape,
    )
    return keras_hub.models.DeepLabV3ImageSegmenter(backbone=backbone, num_classes=num_classes)


def _dcgan_nets(image_shape, latent_dim, base_filters):
    """28x28: Dense -> 7x7x(2b) -> 2x up to 14x14xb -> 28x28xC tanh; the discriminator
    mirrors it (b, 2b strided 4x4 convs, LeakyReLU 0.2, BN after the first)."""
    h0, w0 = image_shape[0] // 4, image_shape[1] // 4
    init = keras.initializers.RandomNormal(stddev=0.02)
    generator = keras.Sequential([
        keras.Input((latent_dim,)),
        layers.Dense(h0 * w0 * 2 * base_filters, use_bias=False, kernel_initializer=init),
        layers.BatchNormalization(momentum=0.9), layers.ReLU(),
        layers.Reshape((h0, w0, 2 * base_filters)),
        layers.Conv2DTranspose(base_filters, 4, strides=2, padding="same", use_bias=False,
                               kernel_initializer=init),
        layers.BatchNormalization(momentum=0.9), layers.ReLU(),
        layers.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same",
                               activation="tanh", kernel_initializer=init),
    ], name="plain_generator")
    discriminator = keras.Sequential([
        keras.Input(image_shape),
        layers.Conv2D(base_filters, 4, strides=2, padding="same", kernel_initializer=init),
        layers.LeakyReLU(0.2),
        layers.Conv2D(2 * base_filters, 4, strides=2, padding="same", use_bias=False,
                      kernel_initializer=init),
        layers.BatchNormalization(momentum=0.9), layers.LeakyReLU(0.2),
        layers.Flatten(), layers.Dense(1, kernel_initializer=init),
    ], name="plain_discriminator")
    return generator, discriminator


class PlainDCGAN(keras.Model):
    """The keras.io DCGAN ``train_step``: one D step on real+fake, one G step,
    non-saturating BCE with one-sided label smoothing."""

    def __init__(self, image_shape=(28, 28, 1), latent_dim=128, base_filters=32,
                 label_smoothing=0.1):
        super().__init__()
        self.generator, self.discriminator = _dcgan_nets(image_shape, latent_dim, base_filters)
        self.latent_dim = latent_dim
        self.label_smoothing = label_smoothing
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.seeds = keras.random.SeedGenerator(0)

    def compile(self, g_optimizer, d_optimizer):
        super().compile()
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer

    def train_step(self, real):
        batch = tf.shape(real)[0]
        z = keras.random.normal((batch, self.latent_dim), seed=self.seeds)
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = (self.bce(tf.ones_like(real_logits) * (1 - self.label_smoothing),
                               real_logits) + self.bce(tf.zeros_like(fake_logits), fake_logits))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        z = keras.random.normal((batch, self.latent_dim), seed=self.seeds)
        with tf.GradientTape() as tape:
            fake_logits = self.discriminator(self.generator(z, training=True), training=True)
            g_loss = self.bce(tf.ones_like(fake_logits), fake_logits)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {"d_loss": d_loss, "g_loss": g_loss}
