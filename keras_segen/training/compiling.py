"""The pieces a kind's compile rule is made of: losses, optimizers and the XLA setting
from a recipe's ``train`` section; ``compile_for_recipe`` asks the recipe's kind.

Shared by training (fresh models) and by ``keras_segen.load`` (zoo artifacts are stored
without optimizer state, and come back compiled the way their recipe trained them, so
``model.fit`` fine-tunes them directly).
"""
import keras

from keras_segen import losses

_LOSSES = {
    "cross_entropy": losses.SparseCrossEntropy,
    "dice": losses.DiceLoss,
    "focal": losses.FocalLoss,
    "jaccard": losses.JaccardLoss,
    "lovasz": losses.LovaszSoftmaxLoss,
    "tversky": losses.TverskyLoss,
}


def build_loss(spec, class_weights=None):
    """``[["cross_entropy", 1.0], ["dice", 0.5]]`` -> a Keras loss object."""
    parts, weights = [], []
    for name, weight in spec:
        if name not in _LOSSES:
            raise ValueError(f"unknown loss {name!r}; choose from {sorted(_LOSSES)}")
        kwargs = {"class_weights": class_weights} if name == "cross_entropy" else {}
        parts.append(_LOSSES[name](**kwargs))
        weights.append(float(weight))
    if len(parts) == 1 and weights[0] == 1.0:
        return parts[0]
    return losses.CombinedLoss(losses=parts, weights=weights)


def make_optimizer(spec, role=""):
    """``{"name": "adam", "learning_rate": 2e-4, ...}`` -> a Keras optimizer; None -> None
    (the model's default). ``role`` prefixes the optimizer's name ("g", "d")."""
    if spec is None:
        return None
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(
            f"an optimizer is given as {{'name': 'adam', 'learning_rate': ...}}, got {spec!r}"
        )
    config = {k: v for k, v in spec.items() if k != "name"}
    config.setdefault("name", f"{role}_{spec['name']}" if role else spec["name"])
    try:
        return keras.optimizers.get({"class_name": spec["name"], "config": config})
    except (ValueError, TypeError) as err:
        raise ValueError(f"bad optimizer spec {spec!r}: {err}") from err


def jit_compile_setting(train_cfg):
    """``train.jit_compile``: true/false, or "auto" (Keras' choice: off on CPU, where XLA
    measured 0.6-0.7x the speed of the default)."""
    value = train_cfg.get("jit_compile", "auto")
    if value not in (True, False, "auto"):
        raise ValueError(f"train.jit_compile must be true, false or \"auto\", got {value!r}")
    return value


def compile_for_recipe(model, recipe, class_names=None, class_weights=None):
    """Compile ``model`` as ``recipe`` trains it: its kind's compile rule
    (``keras_segen.kinds``) with the recipe's ``train`` settings."""
    from keras_segen.kinds import kind_of_recipe

    if class_names is None:
        class_names = recipe.get("classes", {}).get("names")
    return kind_of_recipe(recipe).compile(model, recipe.get("train", {}), class_names,
                                          class_weights)
