"""The last layer of every segmentation model: logits as float32."""
import keras


def float32_logits(x, *, name="logits"):
    """Identity layer whose dtype policy is float32.

    Under a ``mixed_bfloat16`` policy the body computes in bfloat16; losses and softmax
    need float32 logits, so the model output is cast here (the Keras mixed-precision
    guide's recommendation) and the output dtype is float32 under every policy.
    """
    return keras.layers.Activation("linear", dtype="float32", name=name)(x)
