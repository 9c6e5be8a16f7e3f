"""The trained feature models generation metrics are measured with, found through the
zoo's sha256-checked resolver: the Fashion-MNIST classifier (FID/KID/IS of GANs and
VAEs) and the Blue Marble U-Net (pix2pix FID and FCN-score). No Inception weights exist
offline, so values compare with each other, not with published FIDs.
"""
import pathlib

import keras

from keras_segen.metrics.feature_distances import FeatureExtractor
from keras_segen.paths import artifacts_dir

CLASSIFIER_NAME = "fashion_classifier"
SEGMENTER_NAME = "unet_bluemarble"
SEGMENTER_FEATURE_LAYER = "bottleneck_2_relu"


def default_classifier_path() -> pathlib.Path:
    return artifacts_dir() / CLASSIFIER_NAME / "model.keras"


def default_segmenter_path() -> pathlib.Path:
    return artifacts_dir() / SEGMENTER_NAME / "model.keras"


def zoo_feature_model(name, why, how) -> pathlib.Path:
    """The ``model.keras`` of zoo entry ``name`` through the zoo's resolver: every file
    sha256-checked against its card (a feature model that changed would silently change
    every FID). FileNotFoundError says ``why`` it is needed and ``how`` to make it."""
    from keras_segen.zoo.artifacts import resolve_artifact
    from keras_segen.zoo.loading import get_card
    from keras_segen.zoo.schema import MODEL_FILE

    try:
        folder = resolve_artifact(get_card(name))
    except (KeyError, FileNotFoundError) as err:
        raise FileNotFoundError(f"{why}, and it is not available here ({err}); make it "
                                f"with: {how}") from None
    return folder / MODEL_FILE


class FeatureModelUnfit(ValueError):
    """The feature model can't read these images (other channels, or another size it
    won't resize to): FID/KID/IS on them would be meaningless or fail."""


def check_fits(extractor, image_shape, where="the held-out images"):
    """Raise ``FeatureModelUnfit`` unless ``extractor`` reads images of ``image_shape``
    (``[H, W, C]``; grey images may feed a 3-channel model)."""
    height, width, channels = extractor.image_shape
    shape = tuple(image_shape) if len(image_shape) == 3 else (*image_shape, 1)
    fits_channels = shape[2] == channels or (shape[2] == 1 and channels == 3)
    fits_size = tuple(shape[:2]) == (height, width) or extractor.resize
    if not (fits_channels and fits_size):
        model = getattr(extractor, "model_path", None) or extractor.model.name
        raise FeatureModelUnfit(
            f"the feature model {model} reads {height}x{width}x{channels} images, "
            f"{where} are {'x'.join(str(s) for s in shape)}; give the recipe's "
            "evaluation.classifier a feature model for this data")


def feature_classifier(classifier=None) -> FeatureExtractor:
    """A ``FeatureExtractor`` reading images in [0, 1] from a classifier given as a
    ``FeatureExtractor``, a ``keras.Model``, a ``.keras`` path, or None (the zoo's
    Fashion-MNIST classifier; FileNotFoundError says how to make it when missing)."""
    if isinstance(classifier, FeatureExtractor):
        return classifier
    if classifier is None:
        classifier = zoo_feature_model(
            CLASSIFIER_NAME, "FID/KID/IS need the zoo's Fashion-MNIST feature classifier",
            "python scripts/train_feature_classifier.py (or pass classifier=)")
    return FeatureExtractor(classifier, input_range=(0.0, 1.0))


def segmenter_source(segmenter=None):
    """``segmenter`` as given (a ``keras.Model`` or a path), or the zoo U-Net's
    ``model.keras`` for None (FileNotFoundError when missing): the file is what the
    evaluation cache keys its features on."""
    if segmenter is None:
        return zoo_feature_model(
            SEGMENTER_NAME, "pix2pix FID and FCN-score use the zoo's Blue Marble U-Net",
            f"keras-segen zoo build {SEGMENTER_NAME} (or pass segmenter=)")
    return segmenter


def segmentation_features(segmenter=None, feature_layer=SEGMENTER_FEATURE_LAYER):
    """``keras.Model`` mapping images in [0, 1] to ``[pooled features, logits]``.

    ``segmenter`` is a segmentation ``keras.Model``, a ``.keras`` path, or None (the
    zoo's ``unet_bluemarble``; FileNotFoundError when missing). The features are the
    spatial mean of ``feature_layer``'s activations.
    """
    segmenter = segmenter_source(segmenter)
    if not isinstance(segmenter, keras.Model):
        segmenter = keras.saving.load_model(segmenter)
    try:
        activations = segmenter.get_layer(feature_layer).output
    except ValueError:
        raise ValueError(
            f"segmenter {segmenter.name!r} has no layer {feature_layer!r} to take features "
            "from; pass feature_layer= (a 4-D activation, e.g. the U-Net bottleneck)"
        ) from None
    if len(activations.shape) != 4:
        raise ValueError(
            f"feature layer {feature_layer!r} gives shape {activations.shape}; expected a "
            "feature map [N, H, W, C]"
        )
    pooled = keras.layers.GlobalAveragePooling2D(name="pooled_features")(activations)
    return keras.Model(segmenter.inputs[0], [pooled, segmenter.outputs[0]],
                       name=f"{segmenter.name}_features")
