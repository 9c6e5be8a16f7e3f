"""Model kinds: one object per kind of model says how to compile, train, evaluate, draw
and serve it (``base.ModelKind``). Code that needs to know what a model is asks here:

    kind_of_arch("dcgan")       # from the registry: each architecture names its kind
    kind_of_recipe(recipe)      # the kind of the recipe's architecture
    kind_of(model)              # a built or loaded model: its class's ``KIND``

Adding a kind is one module with a ``ModelKind`` subclass and ``register_kind(...)``;
adding an architecture of an existing kind is its builder file and
``register_architecture(name, task=..., kind=...)``.
"""
import difflib

from keras_segen.kinds.adversarial import AdversarialKind
from keras_segen.kinds.adversarial_segmentation import AdversarialSegmentationKind
from keras_segen.kinds.autoregressive import AutoregressiveKind
from keras_segen.kinds.base import ModelKind, TrainingData, split_names
from keras_segen.kinds.classification import ClassificationKind
from keras_segen.kinds.diffusion import DiffusionKind
from keras_segen.kinds.image_to_image import ImageToImageKind
from keras_segen.kinds.segmentation import SegmentationKind
from keras_segen.kinds.variational import VariationalKind

_KINDS: dict[str, ModelKind] = {}


def register_kind(kind: ModelKind) -> ModelKind:
    """Make ``kind`` (a ``ModelKind`` instance) known by its ``name``."""
    if not isinstance(kind, ModelKind) or not kind.name:
        raise TypeError(f"a kind is a named ModelKind instance, got {kind!r}")
    if kind.name in _KINDS and type(_KINDS[kind.name]) is not type(kind):
        raise ValueError(f"kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


for _kind in (SegmentationKind(), ClassificationKind(), AdversarialKind(),
              VariationalKind(), ImageToImageKind(), AdversarialSegmentationKind(),
              AutoregressiveKind(), DiffusionKind()):
    register_kind(_kind)


def kind_names() -> list[str]:
    return sorted(_KINDS)


def get_kind(name: str) -> ModelKind:
    if isinstance(name, ModelKind):
        return name
    if name not in _KINDS:
        close = difflib.get_close_matches(str(name), _KINDS, n=3, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown model kind {name!r}.{hint} Known: {', '.join(kind_names())}")
    return _KINDS[name]


def kind_of_arch(arch: str) -> ModelKind:
    from keras_segen import registry

    return get_kind(registry.get_architecture(arch).kind)


def kind_of_recipe(recipe) -> ModelKind:
    return kind_of_arch(recipe["arch"])


def kind_of(model) -> ModelKind:
    """The kind of a model object.

    Subclassed models (the generative families) name their kind in a ``KIND`` class
    attribute. Functional models have no class of their own; they are segmenters when
    they map one image batch to a per-pixel map and classifiers when they map it to a
    vector. Anything else is refused: ``TypeError`` names what was expected.
    """
    declared = getattr(type(model), "KIND", None)
    if declared:
        return get_kind(declared)
    inputs, outputs = getattr(model, "inputs", None), getattr(model, "outputs", None)
    if inputs and outputs and len(inputs) == 1 and len(outputs) == 1 \
            and len(inputs[0].shape) == 4:
        if len(outputs[0].shape) == 4:
            return get_kind("segmentation")
        if len(outputs[0].shape) == 2:
            return get_kind("classification")
    raise TypeError(
        f"{getattr(model, 'name', type(model).__name__)!r} is of no known model kind: "
        "expected a segmentation model (one image input [N,H,W,C] -> logits "
        "[N,H,W,classes]), a classifier, or a keras_segen generative model (a class with "
        "a KIND attribute)"
    )


__all__ = ["ModelKind", "TrainingData", "get_kind", "kind_names", "kind_of", "kind_of_arch",
           "kind_of_recipe", "register_kind", "split_names"]
