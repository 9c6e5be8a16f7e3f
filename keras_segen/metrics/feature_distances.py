"""Distribution metrics for generators: FID, KID and Inception Score.

They compare embeddings of real and generated images. No Inception weights exist
offline, so the default embedding is the ``"features"`` layer of the Fashion-MNIST
classifier the zoo trains itself (``fashion_classifier``); values are therefore
comparable with each other, **not** with published Inception-based FIDs.
``inception_extractor(weights_path)`` gives the usual InceptionV3 embedding when you
supply its weights file (nothing is ever downloaded).

- ``frechet_distance``, ``fid_from_features``, ``kid_from_features``,
  ``inception_score``: numpy functions on features / class probabilities.
- ``FID`` and ``KID``: streaming Keras metrics; ``update_state(real_images,
  generated_images)`` embeds both batches and accumulates.
- ``evaluate_generator_quality``: all three numbers for two image sets in one call.
"""
import os

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "FID",
    "KID",
    "FeatureExtractor",
    "evaluate_generator_quality",
    "feature_statistics",
    "fid_from_features",
    "frechet_distance",
    "inception_extractor",
    "inception_score",
    "kid_from_features",
]


# --------------------------------------------------------------------------- extractor
class FeatureExtractor:
    """Turns images into (features, class probabilities) with a trained classifier.

    Args:
        model: a ``keras.Model`` or the path of a ``.keras`` file.
        feature_layer: name of the layer whose (rank-2) output is the embedding.
        probability_layer: name of the layer giving class probabilities (softmax);
            ``None`` uses the model's output.
        input_range: value range of the images you will pass, e.g. ``(-1, 1)`` for
            tanh GAN outputs or ``(0, 1)`` for VAE outputs. Integer (uint8) images are
            always read as ``[0, 255]``.
        model_range: value range the classifier was trained on (``(0, 1)`` for
            ``fashion_classifier``).
        resize: resize images to the model's input size (bilinear) instead of raising
            on a size mismatch. One-channel images are repeated to three channels when
            the model wants three.
        batch_size: batch size for ``predict``.
    """

    def __init__(self, model, feature_layer="features", probability_layer=None,
                 input_range=(-1.0, 1.0), model_range=(0.0, 1.0), resize=False,
                 batch_size=256):
        self.model_path = None
        if isinstance(model, (str, os.PathLike)):
            self.model_path = os.fspath(model)
            model = keras.saving.load_model(self.model_path)
        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a keras.Model or a .keras path, got {type(model)}")
        self.model = model
        self.feature_layer = feature_layer
        self.probability_layer = probability_layer
        self.input_range = _check_range(input_range, "input_range")
        self.model_range = _check_range(model_range, "model_range")
        self.resize = bool(resize)
        self.batch_size = int(batch_size)

        features = _layer_output(model, feature_layer)
        if len(features.shape) != 2:
            raise ValueError(
                f"feature layer {feature_layer!r} gives shape {features.shape}; FID/KID need "
                "a pooled [batch, dim] embedding"
            )
        if probability_layer is None:
            probabilities = model.outputs[0]
        else:
            probabilities = _layer_output(model, probability_layer)
        self._embed = keras.Model(model.inputs, [features, probabilities],
                                  name=f"{model.name}_embedding")
        self.image_shape = tuple(model.inputs[0].shape[1:])
        self.feature_dim = int(features.shape[-1])
        self.num_classes = int(probabilities.shape[-1])
        # Preprocessing runs eagerly (its checks need static shapes); the network call
        # is traced once for [None, H, W, C] batches.
        self._compiled_embed = tf.function(
            lambda x: self._embed(x, training=False), reduce_retracing=True)

    def preprocess(self, images):
        """Convert a batch to the model's input size, channels and value range."""
        integer_input = tf.as_dtype(getattr(images, "dtype", np.float32)).is_integer
        images = tf.convert_to_tensor(images)
        images = tf.cast(images, tf.float32)
        if images.shape.rank == 3:  # [N, H, W] grey images
            images = images[..., None]
        if images.shape.rank != 4:
            raise ValueError(f"expected images [N, H, W, C] or [N, H, W], got shape {images.shape}")
        height, width, channels = self.image_shape
        if images.shape[-1] != channels:
            if images.shape[-1] == 1 and channels == 3:
                images = tf.repeat(images, 3, axis=-1)
            else:
                raise ValueError(
                    f"images have {images.shape[-1]} channels; the feature model wants {channels}"
                )
        if tuple(images.shape[1:3]) != (height, width):
            if not self.resize:
                raise ValueError(
                    f"images are {tuple(images.shape[1:3])}; the feature model wants "
                    f"{(height, width)} (pass resize=True to resize)"
                )
            images = tf.image.resize(images, (height, width), method="bilinear")
        low, high = (0.0, 255.0) if integer_input else self.input_range
        model_low, model_high = self.model_range
        return (images - low) * ((model_high - model_low) / (high - low)) + model_low

    def __call__(self, images):
        """``(features, probabilities)`` tensors for one batch (graph-safe)."""
        return self._embed(self.preprocess(images), training=False)

    def predict(self, images):
        """``(features, probabilities)`` as float64 numpy arrays for a whole image set.

        ``images`` is an array / tensor ``[N, H, W(, C)]``, or a ``tf.data.Dataset`` of
        images or of ``(images, labels)`` tuples, batched or not.
        """
        features, probabilities = [], []
        for batch in self._batches(images):
            self._check_value_range(batch)
            f, p = self._compiled_embed(self.preprocess(batch))
            features.append(np.asarray(f, np.float64))
            probabilities.append(np.asarray(p, np.float64))
        if not features:
            raise ValueError("no images to embed")
        return np.concatenate(features), np.concatenate(probabilities)

    def _batches(self, images):
        if isinstance(images, tf.data.Dataset):
            spec = images.element_spec
            if isinstance(spec, (tuple, list)):
                images = images.map(lambda x, *rest: x)
                spec = spec[0]
            if _is_single_image(spec.shape):
                images = images.batch(self.batch_size)
            for batch in images:
                yield batch
            return
        if isinstance(images, tf.Tensor):
            images = images.numpy()
        images = np.asarray(images)
        for start in range(0, len(images), self.batch_size):
            yield images[start:start + self.batch_size]

    def _check_value_range(self, batch):
        if tf.as_dtype(batch.dtype).is_integer:
            return
        values = np.asarray(batch)
        low, high = self.input_range
        margin = 0.01 * (high - low)
        if values.size and (values.min() < low - margin or values.max() > high + margin):
            raise ValueError(
                f"images hold values in [{values.min():.3g}, {values.max():.3g}] but this "
                f"extractor expects input_range={self.input_range}; build the extractor "
                "with the right input_range"
            )

    def get_config(self):
        """A config for ``from_config``. Without ``model_path`` it holds the model's
        architecture only (no weights)."""
        config = {
            "feature_layer": self.feature_layer,
            "probability_layer": self.probability_layer,
            "input_range": list(self.input_range),
            "model_range": list(self.model_range),
            "resize": self.resize,
            "batch_size": self.batch_size,
        }
        if self.model_path is not None:
            config["model"] = self.model_path
        else:
            config["model"] = keras.saving.serialize_keras_object(self.model)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        model = config.pop("model")
        if isinstance(model, dict):
            model = keras.saving.deserialize_keras_object(model)
        return cls(model, **config)


def _is_single_image(shape):
    """True for one image [H, W] or [H, W, C<=3]; False for a batch [N, H, W(, C)]."""
    return shape.rank == 2 or (shape.rank == 3 and shape[-1] in (1, 3))


def _check_range(value_range, label):
    low, high = (float(v) for v in value_range)
    if not high > low:
        raise ValueError(f"{label} must be (low, high) with low < high, got {value_range}")
    return (low, high)


def _layer_output(model, layer_name):
    try:
        return model.get_layer(layer_name).output
    except ValueError as error:
        names = ", ".join(layer.name for layer in model.layers)
        raise ValueError(
            f"model {model.name!r} has no layer {layer_name!r}; its layers: {names}"
        ) from error


def inception_extractor(weights_path, *, input_range=(-1.0, 1.0), batch_size=64):
    """A ``FeatureExtractor`` on InceptionV3 (2048-d ``avg_pool`` features, 1000 classes).

    Only runs with weights you supply: ``weights_path`` is a Keras InceptionV3 weights
    file with the top (e.g. ``inception_v3_weights_tf_dim_ordering_tf_kernels.h5``).
    keras_segen never downloads them. Images are resized to 299x299 and grey images
    repeated to RGB.
    """
    if not weights_path or not os.path.isfile(os.fspath(weights_path)):
        raise FileNotFoundError(
            f"InceptionV3 weights file not found: {weights_path!r}. keras_segen never "
            "downloads weights; pass the path of a Keras InceptionV3 weights file with the "
            "classification top that you already have, or use the zoo's own "
            "fashion_classifier features (FeatureExtractor)."
        )
    model = keras.applications.InceptionV3(weights=os.fspath(weights_path), include_top=True)
    return FeatureExtractor(
        model, feature_layer="avg_pool", probability_layer="predictions",
        input_range=input_range, model_range=(-1.0, 1.0), resize=True, batch_size=batch_size,
    )


# ----------------------------------------------------------------------- numpy metrics
def feature_statistics(features):
    """Mean ``[d]`` and unbiased covariance ``[d, d]`` (float64) of ``features [N, d]``."""
    features = _as_features(features, "features")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    ``|mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))``. The trace of the
    matrix square root is taken from the eigenvalues of the symmetric PSD matrix
    ``sigma1^(1/2) sigma2 sigma1^(1/2)`` (same nonzero spectrum as ``sigma1 sigma2``),
    so no complex ``sqrtm`` round-off appears; tiny negative eigenvalues from rounding
    are clipped to 0.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    dim = mu1.shape[0] if mu1.ndim == 1 else None
    if mu1.ndim != 1 or mu2.shape != mu1.shape:
        raise ValueError(f"mu1 and mu2 must be vectors of one length, got {mu1.shape} and {mu2.shape}")
    for label, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
        if sigma.shape != (dim, dim):
            raise ValueError(f"{label} must be [{dim}, {dim}] to match mu, got {sigma.shape}")
        if not np.all(np.isfinite(sigma)):
            raise ValueError(f"{label} holds non-finite values")
    if not (np.all(np.isfinite(mu1)) and np.all(np.isfinite(mu2))):
        raise ValueError("mu1/mu2 hold non-finite values")
    sqrt_sigma1 = _psd_sqrt(sigma1)
    product = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    return float(max(value, 0.0))


def _psd_sqrt(matrix):
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def fid_from_features(features1, features2):
    """FID between two feature sets ``[N1, d]`` and ``[N2, d]`` (each N >= 2)."""
    features1 = _as_features(features1, "features1")
    features2 = _as_features(features2, "features2", dim=features1.shape[1])
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


def _cubic_kernel(a, b, dim):
    """``(a·b / dim + 1)^3`` in place: ``** 3`` on float64 1000 x 1000 matrices made KID
    most of a 10,000-sample evaluation (benchmarks/evaluation_cost.py); two multiplies
    are 1.7x faster."""
    kernel = a @ b.T
    kernel /= dim
    kernel += 1.0
    cube = kernel * kernel
    cube *= kernel
    return cube


def kid_from_features(features1, features2, num_subsets=100, subset_size=1000, seed=0):
    """Kernel Inception Distance: ``(mean, std)`` of the unbiased MMD² over subsets.

    Each of ``num_subsets`` draws ``subset_size`` rows of each set without replacement
    (capped at the smaller set's size) and computes the unbiased MMD² with the cubic
    polynomial kernel ``k(x, y) = (x·y / d + 1)^3``.
    """
    features1 = _as_features(features1, "features1")
    features2 = _as_features(features2, "features2", dim=features1.shape[1])
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}")
    size = min(int(subset_size), len(features1), len(features2))
    if size < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")
    dim = features1.shape[1]
    rng = np.random.default_rng(seed)
    off_diagonal = size * (size - 1)
    values = np.empty(num_subsets)
    for i in range(num_subsets):
        x = features1[rng.choice(len(features1), size, replace=False)]
        y = features2[rng.choice(len(features2), size, replace=False)]
        k_xx, k_yy, k_xy = _cubic_kernel(x, x, dim), _cubic_kernel(y, y, dim), \
            _cubic_kernel(x, y, dim)
        values[i] = (
            (k_xx.sum() - np.trace(k_xx)) / off_diagonal
            + (k_yy.sum() - np.trace(k_yy)) / off_diagonal
            - 2.0 * k_xy.mean()
        )
    return float(values.mean()), float(values.std())


def inception_score(probabilities, num_splits=10):
    """Inception Score ``(mean, std)`` over ``num_splits`` splits of ``probabilities [N, K]``.

    ``exp(E_x KL(p(y|x) || p(y)))`` per split: 1 for uninformative (uniform) predictions,
    K for confident predictions spread evenly over K classes.
    """
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must be [N, num_classes], got shape {probabilities.shape}")
    if np.any(probabilities < 0) or not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probabilities must be non-negative rows summing to 1 (softmax outputs)")
    if not 1 <= num_splits <= len(probabilities):
        raise ValueError(
            f"num_splits must be in [1, N={len(probabilities)}], got {num_splits}"
        )
    scores = []
    for part in np.array_split(probabilities, num_splits):
        marginal = part.mean(axis=0, keepdims=True)
        ratio = np.divide(part, marginal, out=np.ones_like(part), where=part > 0)
        kl = np.sum(part * np.log(ratio), axis=1)  # 0 * log(.) terms vanish
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _as_features(features, label, dim=None):
    features = np.asarray(features, np.float64)
    if features.ndim != 2:
        raise ValueError(f"{label} must be [N, d], got shape {features.shape}")
    if len(features) < 2:
        raise ValueError(f"{label} needs at least 2 rows, got {len(features)}")
    if dim is not None and features.shape[1] != dim:
        raise ValueError(f"{label} has dimension {features.shape[1]}, expected {dim}")
    return features


def evaluate_generator_quality(generated_images, real_images, extractor, *,
                               num_subsets=100, subset_size=1000, num_splits=10, seed=0):
    """FID, KID (mean and std) and Inception Score of generated images against real ones.

    Both image sets are in the extractor's ``input_range`` (or uint8). ``extractor`` is a
    ``FeatureExtractor``, a ``keras.Model`` or a ``.keras`` path (then images are taken
    to be in [-1, 1] and the model's ``"features"`` layer is the embedding).
    Returns a dict with ``fid``, ``kid``, ``kid_std``, ``inception_score``,
    ``inception_score_std``, ``num_generated``, ``num_real``.
    """
    if not isinstance(extractor, FeatureExtractor):
        extractor = FeatureExtractor(extractor)
    generated_features, generated_probabilities = extractor.predict(generated_images)
    real_features, _ = extractor.predict(real_images)
    kid, kid_std = kid_from_features(real_features, generated_features, num_subsets,
                                     subset_size, seed)
    score, score_std = inception_score(generated_probabilities,
                                       min(num_splits, len(generated_probabilities)))
    return {
        "fid": fid_from_features(real_features, generated_features),
        "kid": kid,
        "kid_std": kid_std,
        "inception_score": score,
        "inception_score_std": score_std,
        "num_generated": int(len(generated_features)),
        "num_real": int(len(real_features)),
    }


# ---------------------------------------------------------------------- Keras metrics
class _FeatureMetric(keras.metrics.Metric):
    """Shared plumbing: an extractor, and embedding of real / generated batches."""

    def __init__(self, extractor, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if isinstance(extractor, dict):
            extractor = FeatureExtractor.from_config(extractor)
        if not isinstance(extractor, FeatureExtractor):
            raise TypeError(f"extractor must be a FeatureExtractor, got {type(extractor)}")
        self.extractor = extractor

    def _embed(self, images):
        if tf.executing_eagerly():
            features, _ = self.extractor.predict(images)  # batched, memory-bounded
            return tf.constant(features, tf.float64)
        features, _ = self.extractor(images)
        return tf.cast(features, tf.float64)

    def update_state(self, real_images=None, generated_images=None, sample_weight=None):
        """Embed and accumulate a batch of real and/or generated images (either may be None)."""
        if sample_weight is not None:
            raise ValueError(f"{type(self).__name__} does not support sample_weight")
        if real_images is not None:
            self._accumulate("real", self._embed(real_images))
        if generated_images is not None:
            self._accumulate("generated", self._embed(generated_images))

    def get_config(self):
        return {**super().get_config(), "extractor": self.extractor.get_config()}


@keras.saving.register_keras_serializable(package="keras_segen")
class FID(_FeatureMetric):
    """Streaming Fréchet distance between real and generated feature distributions.

    Keeps the count, sum and sum of outer products of features per side in float64, so
    memory does not grow with the number of images.
    """

    def __init__(self, extractor, name="fid", dtype=None):
        super().__init__(extractor, name=name, dtype=dtype)
        dim = self.extractor.feature_dim
        self._state = {}
        for side in ("real", "generated"):
            self._state[side] = (
                self.add_variable((), "zeros", dtype="float64", name=f"{side}_count"),
                self.add_variable((dim,), "zeros", dtype="float64", name=f"{side}_sum"),
                self.add_variable((dim, dim), "zeros", dtype="float64", name=f"{side}_outer"),
            )

    def _accumulate(self, side, features):
        count, total, outer = self._state[side]
        count.assign_add(tf.cast(tf.shape(features)[0], tf.float64))
        total.assign_add(tf.reduce_sum(features, axis=0))
        outer.assign_add(tf.matmul(features, features, transpose_a=True))

    def _statistics(self, side):
        count, total, outer = (tf.convert_to_tensor(v) for v in self._state[side])
        mean = total / count
        covariance = (outer - count * tf.tensordot(mean, mean, axes=0)) / (count - 1.0)
        return count, mean, covariance

    def result(self):
        real_count, real_mean, real_cov = self._statistics("real")
        gen_count, gen_mean, gen_cov = self._statistics("generated")

        def compute(real_count, gen_count, *statistics):
            if real_count < 2 or gen_count < 2:
                raise ValueError(
                    f"FID needs at least 2 real and 2 generated images, got {int(real_count)} "
                    f"and {int(gen_count)}"
                )
            return np.float64(frechet_distance(*statistics))

        value = tf.numpy_function(
            compute, [real_count, gen_count, real_mean, real_cov, gen_mean, gen_cov],
            tf.float64, stateful=False,
        )
        return tf.cast(tf.reshape(value, []), self.dtype)


@keras.saving.register_keras_serializable(package="keras_segen")
class KID(_FeatureMetric):
    """Streaming Kernel Inception Distance (unbiased MMD², cubic polynomial kernel).

    KID needs the features themselves: up to ``max_samples`` per side are kept in
    preallocated buffers (more raises an error). ``result()`` is the mean over
    ``num_subsets`` subsets of ``subset_size``; ``result_with_std()`` gives
    ``(mean, std)``.
    """

    def __init__(self, extractor, num_subsets=100, subset_size=1000, max_samples=10000,
                 seed=0, name="kid", dtype=None):
        super().__init__(extractor, name=name, dtype=dtype)
        self.num_subsets = int(num_subsets)
        self.subset_size = int(subset_size)
        self.max_samples = int(max_samples)
        self.seed = int(seed)
        dim = self.extractor.feature_dim
        self._state = {}
        for side in ("real", "generated"):
            self._state[side] = (
                self.add_variable((), "zeros", dtype="int32", name=f"{side}_count"),
                self.add_variable((self.max_samples, dim), "zeros", dtype="float32",
                                  name=f"{side}_features"),
            )

    def _accumulate(self, side, features):
        count, buffer = self._state[side]
        new = tf.shape(features)[0]
        tf.debugging.assert_less_equal(
            tf.convert_to_tensor(count) + new, self.max_samples,
            message=f"KID keeps at most max_samples={self.max_samples} {side} features; "
                    "build the metric with a larger max_samples",
        )
        start = tf.convert_to_tensor(count)
        buffer.assign(keras.ops.slice_update(buffer, (start, 0), tf.cast(features, tf.float32)))
        count.assign_add(new)

    def _compute(self):
        real_count, real_buffer = self._state["real"]
        gen_count, gen_buffer = self._state["generated"]

        def compute(real, generated):
            mean, std = kid_from_features(real, generated, self.num_subsets,
                                          self.subset_size, self.seed)
            return np.array([mean, std], np.float64)

        values = tf.numpy_function(
            compute,
            [tf.convert_to_tensor(real_buffer)[:tf.convert_to_tensor(real_count)],
             tf.convert_to_tensor(gen_buffer)[:tf.convert_to_tensor(gen_count)]],
            tf.float64, stateful=False,
        )
        return tf.reshape(values, [2])

    def result(self):
        return tf.cast(self._compute()[0], self.dtype)

    def result_with_std(self):
        """``(mean, std)`` of the subset MMD² values, as Python floats (eager)."""
        mean, std = self._compute().numpy()
        return float(mean), float(std)

    def get_config(self):
        return {
            **super().get_config(),
            "num_subsets": self.num_subsets,
            "subset_size": self.subset_size,
            "max_samples": self.max_samples,
            "seed": self.seed,
        }
