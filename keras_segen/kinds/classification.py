"""The classification kind: image -> class probabilities (the zoo's Fashion-MNIST
feature classifier, whose ``features`` layer is the FID/KID embedding).

Reports accuracy and per-class accuracy on the test and val splits; it is not served
(it is a measuring instrument of the zoo, loaded by the generation metrics).
"""
import keras
import numpy as np

from keras_segen.kinds.base import ModelKind


def evaluate_classifier(model, dataset, class_names, *, batch_size=512) -> dict:
    """Accuracy of a softmax classifier on a dataset of ``(image, label)``."""
    if dataset.element_spec[0].shape.rank == 3:
        dataset = dataset.batch(batch_size)
    predicted, truth = [], []
    for images, labels in dataset:
        predicted.append(np.argmax(np.asarray(model(images, training=False)), axis=-1))
        truth.append(np.asarray(labels).reshape(-1))
    predicted, truth = np.concatenate(predicted), np.concatenate(truth)
    return {
        "accuracy": float(np.mean(predicted == truth)),
        "per_class_accuracy": {name: float(np.mean(predicted[truth == k] == k))
                               for k, name in enumerate(class_names) if np.any(truth == k)},
        "num_examples": int(len(truth)),
    }


class ClassificationKind(ModelKind):
    name = "classification"
    task = "classification"
    checkpoint_monitor = ("val_accuracy", "max")
    headline_metrics = ("accuracy",)

    def compile(self, model, train_cfg, class_names=None, class_weights=None):
        model.compile(optimizer=keras.optimizers.Adam(float(train_cfg.get("learning_rate", 1e-3))),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def evaluate(self, model, recipe, split, *, batch_size=512, num_images=None,
                 baselines=None, class_names=None):
        from keras_segen import datasets

        data = recipe["dataset"]
        dataset, info = datasets.load(data["name"], split, **data.get("options", {}))
        return evaluate_classifier(model, dataset, class_names or info.class_names,
                                   batch_size=batch_size)

    def format_results(self, results, title=""):
        lines = [title] if title else []
        lines.append(f"  {'accuracy':<40}{results['accuracy']:>12.5g}")
        for name, value in results.get("per_class_accuracy", {}).items():
            lines.append(f"  {'accuracy ' + name:<40}{value:>12.5g}")
        return "\n".join(lines)

    def io_records(self, recipe, kwargs):
        return ({"shape": list(kwargs["input_shape"]), "dtype": "float32",
                 "value_range": [0.0, 1.0],
                 "preprocessing": "grey image as float32 = uint8 / 255"},
                {"shape": [kwargs["num_classes"]],
                 "description": "softmax class probabilities; the 'features' layer is the "
                                "FID/KID embedding"})

    def endpoints(self, model):
        raise TypeError(f"cannot export {model.name!r}: classification models are the zoo's "
                        "feature extractors and have no serving signatures")
