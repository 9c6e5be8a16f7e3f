"""Generative-model evaluation: the numbers that go on the generation zoo cards.

What is measured depends on the kind of model (``model_kind``, ``keras_segen.kinds``):

* ``"adversarial"`` (DCGAN, WGAN-GP, cGAN): ``fid``, ``kid``,
  ``kid_std``, ``inception_score`` (+ ``_std``) of N generated images against the real
  held-out images, on the features of the zoo's Fashion-MNIST classifier
  (``zoo/artifacts/fashion_classifier/model.keras``; no Inception weights exist
  offline, so values compare with each other, not with published FIDs). A conditional
  model is asked for every class in turn and also gets ``classifier_accuracy``: how
  often the classifier recognises the requested class in the generated image (and
  ``real_classifier_accuracy``, the same classifier on the real images, for scale).
* ``"variational"`` (VAE, CVAE): ``psnr`` and ``ssim`` of the
  reconstructions of the held-out images, ``fid``/``kid`` of those reconstructions
  against the originals, and ``sample_fid``/``sample_kid``/``sample_inception_score``
  of images decoded from the prior (plus ``sample_classifier_accuracy`` for a CVAE).
  Without a classifier only ``psnr``/``ssim`` are given (``notes`` says why).
* ``"image_to_image"`` (pix2pix): ``psnr``/``ssim`` of the translated held-out
  conditions against the real tiles, and ``fid``/``kid`` on features of a trained
  **Blue Marble segmentation U-Net** (``zoo/artifacts/unet_bluemarble/model.keras``,
  its bottleneck activations averaged over space). The Fashion classifier knows
  nothing about satellite imagery, and a U-Net trained on real tiles responds to what
  makes them look real (coast lines, vegetation, ice). The same U-Net also segments the
  outputs: ``fcn_mean_iou`` / ``fcn_pixel_accuracy`` against the condition masks (the
  "FCN-score" of the pix2pix paper), next to ``fcn_mean_iou_real`` on the real tiles
  (the ceiling). Without that U-Net these metrics are None and ``notes`` says why.

``GenerationEvaluator`` embeds the real data once and evaluates any number of models
against it (the trained one, an untrained baseline) plus the real-vs-real floor;
``evaluate_generator`` is the one-call form, and ``evaluate_recipe_model`` loads the
held-out split a training recipe names (what ``keras-segen evaluate`` and the trainer
use). The real images' features, the untrained baseline and the real floor don't depend
on the trained model: they are cached on disk (``keras_segen.evaluation.cache``).
"""
import keras
import numpy as np

from keras_segen.evaluation.arrays import collect, to_unit_range  # noqa: F401
from keras_segen.evaluation.feature_models import (  # noqa: F401 - public here too
    CLASSIFIER_NAME,
    SEGMENTER_FEATURE_LAYER,
    SEGMENTER_NAME,
    FeatureModelUnfit,
    check_fits,
    default_classifier_path,
    default_segmenter_path,
    feature_classifier,
    segmentation_features,
    segmenter_source,
    zoo_feature_model,
)
from keras_segen.evaluation.cache import (
    EvaluationCache,
    array_sha256,
    cache_enabled,
    file_sha256,
)
from keras_segen.datasets.recipe_data import load_recipe_split  # noqa: F401 - public here too
from keras_segen.evaluation.segmentation import summarize_confusion
from keras_segen.generation.base import positive_int
from keras_segen.metrics.feature_distances import (
    fid_from_features,
    inception_score,
    kid_from_features,
)
from keras_segen.metrics.image_quality import PSNR, SSIM

def measured_by(kind):
    """How a kind's models are measured -- ``"samples"`` (of the prior: FID/KID/IS,
    classifier accuracy), ``"reconstructions"`` (and prior samples) or
    ``"translations"`` -- as the kind says (``GenerativeKind.measured_by``); None for a
    kind that is not generative."""
    from keras_segen.kinds import get_kind

    return getattr(get_kind(kind), "measured_by", None)


def generative_kinds() -> list:
    """The registered kinds this module measures."""
    from keras_segen.kinds import kind_names

    return [name for name in kind_names() if measured_by(name)]


def model_kind(model) -> str:
    """The generative kind of ``model`` (``keras_segen.kinds``), e.g. ``"adversarial"``,
    ``"variational"``, ``"image_to_image"``; TypeError for any other model."""
    from keras_segen.kinds import kind_of

    kind = kind_of(model).name
    if measured_by(kind) is None:
        raise TypeError(f"{getattr(model, 'name', type(model).__name__)!r} is a {kind} "
                        f"model, not a generative one ({', '.join(generative_kinds())})")
    return kind


class GenerationEvaluator:
    """Evaluate generative models of one ``kind`` against fixed held-out data.

    Args:
        data: held-out data: ``(images, labels)`` for GANs and VAEs, ``(conditions,
            targets)`` for pix2pix -- a ``tf.data.Dataset`` (batched or not) or a tuple
            of numpy arrays (labels may be None for unconditional models).
        kind: a generative kind's name, e.g. ``"adversarial"``, ``"variational"``,
            ``"image_to_image"``, ``"diffusion"``, ``"autoregressive"`` (see
            ``model_kind``).
        data_range: value range of the images / targets in ``data``; default: what that
            kind's recipes train on (the kind's ``data_range``).
        classifier: for GANs and VAEs (see ``feature_classifier``); ``False`` skips the
            feature metrics of a VAE (a GAN has no others).
        segmenter: for pix2pix (see ``segmentation_features``); ``False`` skips FID and
            FCN-score.
        num_real: use at most this many held-out examples.
        class_names: names for per-class accuracies (default: the class indices).
        kid_subset_size, kid_subsets: KID's subsets (capped at the number of images).
        seed: seeds generation and KID's subset draws.
        cache: an ``EvaluationCache`` for the real images' features and the baselines;
            None: the default one (off with ``KERAS_SEGEN_EVAL_CACHE=off``); False: none.
            Only a feature model read from a file is cached (its sha256 is the key).
        data_identity: what the held-out data is (dataset name, split, options), kept
            in the cache keys beside the images' own sha256.
    """

    def __init__(self, data, *, kind, data_range=None, classifier=None, segmenter=None,
                 num_real=None, class_names=None, batch_size=256, kid_subset_size=1000,
                 kid_subsets=100, seed=0, cache=None, data_identity=None):
        if kind not in generative_kinds():
            raise ValueError(f"kind must be one of {generative_kinds()}, got {kind!r}")
        self.kind = kind
        self.measure = measured_by(kind)
        from keras_segen.kinds import get_kind

        self.data_range = tuple(data_range or get_kind(kind).data_range)
        self.batch_size = int(batch_size)
        self.kid_subset_size = int(kid_subset_size)
        self.kid_subsets = int(kid_subsets)
        self.seed = int(seed)
        self.class_names = class_names
        self.notes = []
        self.cache = _default_cache() if cache is None else (cache or None)
        self.data_identity = data_identity
        self._feature_file = None
        first, second = collect(data, num_real, self.batch_size)
        if self.measure == "translations":
            if second is None:
                raise ValueError("pix2pix evaluation data must be (conditions, targets) pairs")
            self.conditions = first.astype(np.float32)
            self.real = to_unit_range(second, self.data_range)
            self.labels = None
        else:
            self.real = to_unit_range(first, self.data_range)
            self.labels = None if second is None else np.asarray(second).reshape(-1)
        if self.measure == "samples" and classifier is False and segmenter in (None, False):
            raise ValueError(f"a {kind} model is measured on the features of its samples "
                             "only; pass a classifier (or a segmenter)")
        self.extractor = self.features_model = None
        try:
            # Samples of satellite tiles (diffusion): on the U-Net too, when one is given.
            if segmenter is not False and (self.measure == "translations" or (
                    self.measure == "samples" and segmenter is not None)):
                segmenter = segmenter_source(segmenter)
                self.features_model = segmentation_features(segmenter)
                if not isinstance(segmenter, keras.Model):
                    self._feature_file = segmenter
            elif self.measure != "translations" and classifier is not False:
                self.extractor = feature_classifier(classifier)
                self._feature_file = self.extractor.model_path
            if self.extractor is not None:
                check_fits(self.extractor, self.real.shape[1:])
        except (FileNotFoundError, FeatureModelUnfit) as err:
            if self.measure == "samples":
                raise  # a sampler has nothing else to report
            self.extractor = self._feature_file = None
            self.notes.append(f"feature metrics skipped: {err}")
        self._real_embedding = None
        self._cache_parts = None

    # ------------------------------------------------------------------ embeddings
    def embed(self, images01):
        """``(features, probabilities or logits)`` of images in [0, 1]."""
        if self.features_model is not None:
            from keras_segen.progress import progress_bar

            features, logits = [], []
            bar = progress_bar(len(images01), "image")
            for start in range(0, len(images01), self.batch_size):
                f, z = self.features_model(images01[start:start + self.batch_size],
                                           training=False)
                features.append(np.asarray(f, np.float64))
                logits.append(np.asarray(z, np.float32))
                bar.add(len(z))
            return np.concatenate(features), np.concatenate(logits)
        low, high = self.extractor.input_range
        return self.extractor.predict(images01 * (high - low) + low)

    @property
    def real_embedding(self):
        if self._real_embedding is None:
            self._real_embedding = self.embed_real(self.real)
        return self._real_embedding

    def embed_real(self, images01):
        """``embed`` of real images, through the cache."""
        feature_model = self._feature_key()
        if self.cache is None or feature_model is None:
            return self.embed(images01)
        parts = {"feature_model": feature_model, "images": array_sha256(images01)}
        return self.cache.arrays("real_features", parts, lambda: self.embed(images01))

    def _feature_key(self):
        # What determines a feature: the model file's sha256 and how it is read.
        if self._feature_file is None:
            return None
        key = {"sha256": file_sha256(self._feature_file)}
        if self.extractor is not None:
            x = self.extractor
            key.update(feature_layer=x.feature_layer, probability_layer=x.probability_layer,
                       input_range=x.input_range, model_range=x.model_range,
                       resize=x.resize, batch_size=x.batch_size)
        else:
            key.update(feature_layer=SEGMENTER_FEATURE_LAYER, batch_size=self.batch_size)
        return key

    def cache_parts(self):
        """What this evaluator's results depend on besides the model (None: not
        cacheable, the feature model is not a file)."""
        if self.cache is None or self._feature_key() is None:
            return None
        if self._cache_parts is None:
            self._cache_parts = {
                "feature_model": self._feature_key(), "kind": self.kind,
                "data": self.data_identity, "num_real": int(len(self.real)),
                "real": array_sha256(self.real, self.labels,
                                     getattr(self, "conditions", None)),
                "data_range": self.data_range, "batch_size": self.batch_size,
                "kid": [self.kid_subset_size, self.kid_subsets], "seed": self.seed,
                "class_names": self.class_names, "notes": self.notes,
                "feature_model_name": self._feature_model_name(),
            }
        return self._cache_parts

    def cached_results(self, what, parts, compute):
        """``compute()``, or its cached value for ``parts`` + ``cache_parts()``."""
        base = self.cache_parts()
        if base is None:
            return compute()
        return self.cache.results(what, {**base, **parts}, compute)

    @property
    def has_features(self):
        return self.extractor is not None or self.features_model is not None

    def distances(self, images01, prefix=""):
        """FID and KID of ``images01`` against the held-out images."""
        features, outputs = self.embed(images01)
        return self._distances_of(features, prefix), outputs

    def _distances_of(self, features, prefix=""):
        real_features, _ = self.real_embedding
        kid, kid_std = kid_from_features(real_features, features, self.kid_subsets,
                                         self.kid_subset_size, self.seed)
        scores = {f"{prefix}fid": fid_from_features(real_features, features),
                  f"{prefix}kid": kid, f"{prefix}kid_std": kid_std}
        return scores

    def _inception_score(self, probabilities, prefix=""):
        mean, std = inception_score(probabilities, min(10, len(probabilities)))
        return {f"{prefix}inception_score": mean, f"{prefix}inception_score_std": std}

    def _accuracy(self, probabilities, labels, key):
        predicted = np.argmax(probabilities, axis=-1)
        scores = {key: float(np.mean(predicted == labels))}
        names = self.class_names or [str(k) for k in range(probabilities.shape[-1])]
        scores[f"{key}_per_class"] = {
            names[k]: float(np.mean(predicted[labels == k] == k))
            for k in np.unique(labels)
        }
        return scores

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, model, num_images=None) -> dict:
        """The metrics of ``model`` (see the module docstring). ``num_images``: how many
        images a GAN / a VAE's prior generates (default: as many as held-out images)."""
        kind = model_kind(model)
        if kind != self.kind:
            raise ValueError(f"this evaluator measures {self.kind} models; got a model of kind {kind!r}")
        if self.measure == "translations":
            results = self._evaluate_translation(model)
        else:
            num_images = (len(self.real) if num_images is None
                          else positive_int(num_images, "num_images"))
            if self.measure == "samples":
                results = self._evaluate_sampler(model, num_images)
            else:
                results = self._evaluate_autoencoder(model, num_images)
        if self.notes:
            results["notes"] = list(self.notes)
        return results

    def _sample(self, model, num_images):
        num_classes = int(getattr(model, "num_classes", 0) or 0)
        labels = np.arange(num_images, dtype=np.int32) % num_classes if num_classes else None
        images = model.generate(num_images, seed=self.seed, labels=labels,
                                batch_size=self.batch_size)
        return np.asarray(images, np.float32), labels

    def _evaluate_sampler(self, model, num_images):
        generated, labels = self._sample(model, num_images)
        results, probabilities = self.distances(generated)
        if self.features_model is None:  # a segmenter's outputs are maps, not class scores
            results.update(self._inception_score(probabilities))
        if labels is not None:
            results.update(self._accuracy(probabilities, labels, "classifier_accuracy"))
            if self.labels is not None:
                _, real_probabilities = self.real_embedding
                results["real_classifier_accuracy"] = float(
                    np.mean(np.argmax(real_probabilities, -1) == self.labels))
        results.update(num_generated=num_images, num_real=int(len(self.real)),
                       feature_model=self._feature_model_name())
        return results

    def _evaluate_autoencoder(self, model, num_images):
        conditional = bool(getattr(model, "num_classes", 0))
        if conditional and self.labels is None:
            raise ValueError("a conditional VAE needs (images, labels) evaluation data")
        from keras_segen.progress import progress_bar

        reconstructions, bar = [], progress_bar(len(self.real), "image")
        for start in range(0, len(self.real), self.batch_size):
            stop = start + self.batch_size
            labels = self.labels[start:stop] if conditional else None
            reconstructions.append(np.asarray(model.reconstruct(self.real[start:stop], labels),
                                              np.float32))
            bar.add(len(reconstructions[-1]))
        reconstructions = np.concatenate(reconstructions)
        results = self._pixel_scores(self.real, reconstructions)
        results["num_real"] = int(len(self.real))
        if not self.has_features:
            return results
        scores, _ = self.distances(reconstructions)
        results.update(scores)
        generated, labels = self._sample(model, num_images)
        scores, probabilities = self.distances(generated, prefix="sample_")
        results.update(scores)
        results.update(self._inception_score(probabilities, prefix="sample_"))
        if labels is not None:
            results.update(self._accuracy(probabilities, labels, "sample_classifier_accuracy"))
        results.update(num_generated=num_images, feature_model=self._feature_model_name())
        return results

    def _evaluate_translation(self, model):
        from keras_segen.progress import progress_bar

        outputs, bar = [], progress_bar(len(self.conditions), "image")
        for start in range(0, len(self.conditions), self.batch_size):
            outputs.append(np.asarray(
                model.translate(self.conditions[start:start + self.batch_size]), np.float32))
            bar.add(len(outputs[-1]))
        outputs = np.concatenate(outputs)
        results = self._pixel_scores(self.real, outputs)
        results["num_real"] = int(len(self.real))
        if not self.has_features:
            results.update(fid=None, kid=None, kid_std=None)
            return results
        scores, logits = self.distances(outputs)
        results.update(scores)
        _, real_logits = self.real_embedding
        num_classes = logits.shape[-1]
        if self.conditions.shape[-1] == num_classes:  # one-hot masks: FCN-score
            truth = np.argmax(self.conditions, axis=-1)
            for suffix, predicted in (("", logits), ("_real", real_logits)):
                summary = summarize_confusion(
                    _confusion(truth, np.argmax(predicted, -1), num_classes),
                    [str(k) for k in range(num_classes)])
                results[f"fcn_mean_iou{suffix}"] = summary["mean_iou"]
                results[f"fcn_pixel_accuracy{suffix}"] = summary["pixel_accuracy"]
        results["feature_model"] = self._feature_model_name()
        return results

    def _pixel_scores(self, real, produced):
        psnr, ssim = PSNR(max_val=1.0), SSIM(max_val=1.0)
        for start in range(0, len(real), self.batch_size):
            stop = start + self.batch_size
            psnr.update_state(real[start:stop], produced[start:stop])
            ssim.update_state(real[start:stop], produced[start:stop])
        return {"psnr": float(psnr.result()), "ssim": float(ssim.result())}

    def _feature_model_name(self):
        if self.features_model is not None:
            return f"{self.features_model.name} (pooled {SEGMENTER_FEATURE_LAYER})"
        return self.extractor.model_path or self.extractor.model.name

    def real_floor(self, other_data, num_images=None) -> dict:
        """FID/KID of other real images (e.g. the train split; same value range as the
        held-out data) against the held-out images: the best a generator can hope for
        with this many images."""
        if not self.has_features:
            raise ValueError("the real-vs-real floor needs a feature model")
        wanted = len(self.real) if num_images is None else positive_int(num_images, "num_images")
        first, second = collect(other_data, wanted, self.batch_size)
        images = to_unit_range(second if self.measure == "translations" else first,
                               self.data_range)

        def compute():
            scores = self._distances_of(self.embed_real(images)[0])
            scores.update(num_images=int(len(images)), num_real=int(len(self.real)))
            return scores

        return self.cached_results("real_floor", {"other": array_sha256(images)}, compute)


def _default_cache():
    return EvaluationCache() if cache_enabled() else None


def _confusion(truth, predicted, num_classes):
    index = truth.reshape(-1).astype(np.int64) * num_classes + predicted.reshape(-1)
    return np.bincount(index, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


def evaluate_generator(model, data, *, num_images=None, **options) -> dict:
    """Evaluate ``model`` on held-out ``data`` in one call; ``options`` go to
    ``GenerationEvaluator`` (``classifier``, ``segmenter``, ``data_range``,
    ``num_real``, ``seed``, ...). See the module docstring for what is measured."""
    evaluator = GenerationEvaluator(data, kind=model_kind(model), **options)
    return evaluator.evaluate(model, num_images=num_images)


# Last: it builds on GenerationEvaluator (and stays importable from here).
from keras_segen.evaluation.recipe_model import (  # noqa: E402,F401
    evaluate_recipe_model,
    format_generation_table,
)
