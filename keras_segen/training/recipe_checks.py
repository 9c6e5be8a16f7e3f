"""The field checks of a recipe (see :mod:`keras_segen.training.recipes`).

Each section of a recipe has a table ``field -> (check, required)``; a check returns the
value or raises :class:`_Bad` with what the value must be, and :func:`check_section`
turns that into one :class:`RecipeError` line naming the file and the field::

    recipe zoo/recipes/x.json: train.epochs must be a positive int, got 0

Defaults are not here: they live in the dataclasses of ``recipes.py``.
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib

# Keys of ``train.samples`` (the picture callbacks of the generative kinds).
SAMPLE_KEYS = ("num_images", "seed", "every", "reconstructions", "num_tiles")


class RecipeError(ValueError):
    """A recipe field is missing, unknown or of the wrong type/value (one-line message
    naming the recipe's file and the field path)."""


class _Bad(Exception):
    """A field check failed; ``what`` completes "<field> must be ..."."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


def show(value) -> str:
    """``repr(value)``, cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def hint(key, known, prefix="") -> str:
    """`` (did you mean PREFIXNAME?)`` for the known name closest to ``key``, or ""."""
    close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


# --------------------------------------------------------------------------- checks
def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _rule(accepts, what):
    """The check that passes the values ``accepts`` takes; else "must be ``what``"."""
    def check(v):
        if not accepts(v):
            raise _Bad(what)
        return v
    return check


def _one_of(module, attribute):
    """The check that ``v`` is one of the names ``module.attribute`` lists (imported at
    the first check: reading a recipe must not import the model code)."""
    def check(v):
        names = getattr(importlib.import_module(module), attribute)
        if v not in names:
            raise _Bad(f"one of {', '.join(names)}")
        return v
    return check


def _optional(check):
    def run(v):
        return None if v is None else check(v)
    return run


_str = _rule(lambda v: isinstance(v, str) and v != "", "a non-empty string")
_text = _rule(lambda v: isinstance(v, str), "a string")
_int = _rule(_is_int, "an int")
_pos_int = _rule(lambda v: _is_int(v) and v > 0, "a positive int")
_pos_number = _rule(lambda v: _is_number(v) and v > 0, "a positive number")
_nonneg_number = _rule(lambda v: _is_number(v) and v >= 0, "a non-negative number")
_bool = _rule(lambda v: isinstance(v, bool), "true or false")
_object = _rule(lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v),
                "an object")
# 0 and 1 are not true and false in a recipe.
_jit_compile = _rule(lambda v: isinstance(v, bool) or v == "auto", 'true, false or "auto"')
_imports = _rule(lambda v: isinstance(v, list) and all(isinstance(m, str) and m.strip()
                                                        for m in v),
                 'a list of module names, e.g. ["my_package.my_nets"]')
_task = _one_of("keras_segen.registry", "TASKS")
_precision = _one_of("keras_segen.training.precision", "PRECISIONS")
_class_weighting = _one_of("keras_segen.losses.class_weights", "METHODS")


def _optimizer(v):
    if not isinstance(v, dict) or not isinstance(v.get("name"), str):
        raise _Bad('an optimizer object {"name": "adam", "learning_rate": ...}')
    if "learning_rate" in v and not (_is_number(v["learning_rate"]) and v["learning_rate"] > 0):
        raise _Bad("an optimizer whose learning_rate is a positive number")
    return v


def _loss(v):
    shape = 'a list of [name, weight] pairs, e.g. [["cross_entropy", 1.0], ["dice", 0.5]]'
    if not isinstance(v, list) or not v:
        raise _Bad(shape)
    try:
        from keras_segen.training.compiling import _LOSSES as known
    except ImportError:  # pragma: no cover - names are checked again at compile time
        known = None
    for part in v:
        if (not isinstance(part, (list, tuple)) or len(part) != 2
                or not isinstance(part[0], str) or not _is_number(part[1])):
            raise _Bad(shape)
        if known is not None and part[0] not in known:
            raise _Bad(f"made of the losses {', '.join(sorted(known))}"
                       f"{hint(part[0], known)}")
    return v


def _augment(v):
    _object(v)
    from keras_segen.datasets.augment import JointAugment

    known = [f.name for f in dataclasses.fields(JointAugment)]
    for key in v:
        if key not in known:
            raise _Bad(f"an object of JointAugment options ({', '.join(known)}); "
                       f"{key!r} is not one{hint(key, known)}")
    return v


def _samples(v):
    _object(v)
    for key, value in v.items():
        if key not in SAMPLE_KEYS:
            raise _Bad(f"an object of {', '.join(SAMPLE_KEYS)}; {key!r} is not one"
                       f"{hint(key, SAMPLE_KEYS)}")
        if key == "seed" and not _is_int(value) or key != "seed" and not (
                _is_int(value) and value > 0):
            raise _Bad(f"an object whose {key} is {'an' if key == 'seed' else 'a positive'} int")
    return v


def _limit(v):
    _object(v)
    for split, value in v.items():
        if value is not None and not (_is_int(value) and value > 0):
            raise _Bad(f"an object of split -> positive int (or null); {split} is not")
    return v


def _classes(v):
    _object(v)
    names = v.get("names")
    if names is not None and not (
            isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise _Bad("an object whose names is a list of strings")
    palette = v.get("palette")
    if palette is not None and not (isinstance(palette, list) and all(
            isinstance(c, list) and len(c) == 3 and all(_is_int(x) and 0 <= x <= 255 for x in c)
            for c in palette)):
        raise _Bad("an object whose palette is a list of [r, g, b] (0-255)")
    return v


INIT_WEIGHTS = ("zoo", "backbone")


def _init(v):
    """Where a run's weights start: ``{"from": ZOO_NAME, "weights": "zoo"|"backbone"}``."""
    shape = ('an object {"from": "<zoo name>", "weights": "zoo" or "backbone"}')
    if not (isinstance(v, dict) and set(v) == {"from", "weights"}
            and isinstance(v["from"], str) and v["from"] and v["weights"] in INIT_WEIGHTS):
        raise _Bad(shape)
    return v


PLATEAU_KEYS = ("factor", "patience", "min_lr")


def _plateau(v):
    """``{"factor": 0 < f < 1, "patience": epochs >= 1, "min_lr": >= 0}`` (all optional)."""
    shape = ('an object of factor (0 < f < 1), patience (epochs, >= 1) and min_lr (>= 0)')
    if not isinstance(v, dict) or set(v) - set(PLATEAU_KEYS):
        raise _Bad(shape)
    factor, patience, min_lr = v.get("factor", 0.5), v.get("patience", 5), v.get("min_lr", 0)
    if not (_is_number(factor) and 0 < factor < 1 and _is_int(patience) and patience >= 1
            and _is_number(min_lr) and min_lr >= 0):
        raise _Bad(shape)
    return v


def _fid_curve(v):
    """``{"every": epochs >= 1, "num_images": >= 1}`` (both optional)."""
    if not isinstance(v, dict) or set(v) - {"every", "num_images"} or not all(
            _is_int(x) and x > 0 for x in v.values()):
        raise _Bad('an object of every (epochs, >= 1) and num_images (>= 1)')
    return v


def _license(v):
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and all(isinstance(x, str) for x in v.values()):
        return v
    raise _Bad('a string or an object {"code": ..., "weights": ..., "data": ...}')


# --------------------------------------------------------------------------- tables
# field -> (check, required); None: a section, checked with its own table.
TOP_FIELDS = {
    "name": (_str, True), "task": (_task, True), "arch": (_str, True),
    "kwargs": (_object, True), "dataset": (None, True), "train": (None, True),
    "evaluation": (None, False), "imports": (_imports, False),
    "classes": (_classes, False), "license": (_license, False),
    "description": (_text, False), "trainer": (_object, False),
    "init": (_optional(_init), False),
}
DATASET_FIELDS = {
    "name": (_str, True), "options": (_object, False), "train_options": (_object, False),
    "train_split": (_str, False), "val_split": (_optional(_str), False),
    "test_split": (_str, False), "limit": (_optional(_limit), False),
    "title": (_text, False), "split_protocol": (_text, False),
    "license": (_text, False), "source": (_text, False), "prepare": (_text, False),
    "val_protocol": (_optional(_str), False),
}
TRAIN_FIELDS = {
    "epochs": (_pos_int, True), "batch_size": (_pos_int, True),
    "steps_per_epoch": (_optional(_pos_int), False), "seed": (_int, False),
    "precision": (_precision, False), "jit_compile": (_jit_compile, False),
    "time_budget_s": (_optional(_pos_number), False),
    "learning_rate": (_pos_number, False), "weight_decay": (_nonneg_number, False),
    "optimizer": (_optional(_optimizer), False),
    "g_optimizer": (_optional(_optimizer), False),
    "d_optimizer": (_optional(_optimizer), False),
    "loss": (_loss, False), "augment": (_optional(_augment), False),
    "class_weighting": (_optional(_class_weighting), False),
    "overlay_tiles": (_pos_int, False), "samples": (_samples, False),
    "schedule": (_text, False), "checkpoint": (_text, False),
    "eval_samples": (_optional(_pos_int), False),
    "reduce_lr_on_plateau": (_optional(_plateau), False),
    "fid_curve": (_optional(_fid_curve), False),
}
EVALUATION_FIELDS = {
    "num_images": (_optional(_pos_int), False), "seed": (_int, False),
    "kid_subset_size": (_pos_int, False), "kid_subsets": (_pos_int, False),
    "baselines": (_bool, False), "classifier": (_optional(_str), False),
    "segmenter": (_optional(_str), False),
}


def check_field(fields, key, value, where, source):
    """``value`` of field ``key`` (at path ``where``) checked by its table ``fields``."""
    check, _ = fields[key]
    try:
        return check(value)
    except _Bad as bad:
        raise RecipeError(f"recipe {source}: {where} must be {bad.what}, got {show(value)}") \
            from None


def check_section(data, fields, prefix, source) -> dict:
    """The checked values of one section (only the keys it gives; its sub-sections are
    left out)."""
    where = prefix.rstrip(".") or "the recipe"
    if not isinstance(data, dict):
        raise RecipeError(f"recipe {source}: {where} must be an object, got {show(data)}")
    for key in data:
        if key not in fields:
            raise RecipeError(f"recipe {source}: unknown key {prefix}{key}"
                              f"{hint(key, fields, prefix)}")
    missing = [k for k, (_, required) in fields.items() if required and k not in data]
    if missing:
        raise RecipeError(f"recipe {source}: {prefix}{missing[0]} is missing")
    return {key: check_field(fields, key, value, f"{prefix}{key}", source)
            for key, value in data.items() if fields[key][0] is not None}


__all__ = [
    "DATASET_FIELDS",
    "EVALUATION_FIELDS",
    "SAMPLE_KEYS",
    "TOP_FIELDS",
    "TRAIN_FIELDS",
    "RecipeError",
    "check_field",
    "check_section",
    "hint",
    "show",
]
