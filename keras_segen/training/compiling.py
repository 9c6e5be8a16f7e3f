"""How a recipe compiles a model: optimizer(s), loss and metrics from its ``train`` section.

Shared by training (fresh models) and by ``keras_segen.load`` (zoo artifacts are stored
without optimizer state, and come back compiled the way their recipe trained them, so
``model.fit`` fine-tunes them directly).
"""
import keras

from keras_segen import losses, metrics

_LOSSES = {
    "cross_entropy": losses.SparseCrossEntropy,
    "dice": losses.DiceLoss,
    "focal": losses.FocalLoss,
    "jaccard": losses.JaccardLoss,
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


def segmentation_metrics(class_names):
    num_classes = len(class_names)
    found = [
        metrics.PixelAccuracy(num_classes=num_classes, name="pixel_accuracy"),
        metrics.MeanIoU(num_classes=num_classes, name="mean_iou"),
    ]
    found += [
        metrics.PerClassIoU(num_classes=num_classes, class_id=k, name=f"iou_{name}")
        for k, name in enumerate(class_names)
    ]
    return found


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


def _jit_compile(train_cfg):
    """``train.jit_compile``: true/false, or "auto" (Keras' choice: off on CPU, where XLA
    measured 0.6-0.7x the speed of the default)."""
    value = train_cfg.get("jit_compile", "auto")
    if value not in (True, False, "auto"):
        raise ValueError(f"train.jit_compile must be true, false or \"auto\", got {value!r}")
    return value


def compile_segmentation(model, train_cfg, class_names, class_weights=None):
    """AdamW from ``learning_rate``/``weight_decay``, unless ``train.optimizer`` gives
    one as ``{"name": ..., ...}``."""
    optimizer = make_optimizer(train_cfg.get("optimizer")) or keras.optimizers.AdamW(
        learning_rate=float(train_cfg.get("learning_rate", 1e-3)),
        weight_decay=float(train_cfg.get("weight_decay", 0.0)),
    )
    model.compile(
        optimizer=optimizer,
        loss=build_loss(train_cfg.get("loss", [["cross_entropy", 1.0]]), class_weights),
        metrics=segmentation_metrics(class_names),
        jit_compile=_jit_compile(train_cfg),
    )


def compile_generation(model, train_cfg):
    """VAEs take one optimizer; adversarial models one per player (g_/d_optimizer)."""
    if callable(getattr(model, "encode", None)):
        optimizer = make_optimizer(train_cfg.get("optimizer")) or keras.optimizers.Adam(
            float(train_cfg.get("learning_rate", 1e-3)))
        model.compile(optimizer=optimizer, jit_compile=_jit_compile(train_cfg))
    else:
        model.compile(g_optimizer=make_optimizer(train_cfg.get("g_optimizer"), "g"),
                      d_optimizer=make_optimizer(train_cfg.get("d_optimizer"), "d"),
                      jit_compile=_jit_compile(train_cfg))


def compile_for_recipe(model, recipe, class_names=None, class_weights=None):
    """Compile ``model`` as ``recipe`` trains it (segmentation, generation, classifier)."""
    train_cfg = recipe.get("train", {})
    if recipe["task"] == "segmentation":
        if class_names is None:
            class_names = recipe.get("classes", {}).get("names") or [
                f"class_{k}" for k in range(int(model.output_shape[-1]))]
        compile_segmentation(model, train_cfg, class_names, class_weights)
    elif recipe["task"] == "generation":
        compile_generation(model, train_cfg)
    elif recipe["task"] == "classification":
        model.compile(optimizer=keras.optimizers.Adam(float(train_cfg.get("learning_rate", 1e-3))),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    else:
        raise ValueError(f"no compile rule for task {recipe['task']!r} ({recipe.get('name')})")
    return model
