"""Training steps with keras_segen's ``FusedBatchNormalization`` against the same models
with Keras' ``BatchNormalization`` (same weights, config and data), interleaved in one
process.

    python benchmarks/batch_norm_fusion.py [--recipes unet_bluemarble ...] [--rounds 4]
                                           [--steps 10] [--precision float32]

Each recipe's model is compiled by its kind as ``keras-segen train`` does; the Keras
variant is a clone whose fused layers are plain ``keras.layers.BatchNormalization`` built
from the same config.
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import _common  # noqa: E402
from training_profile import recipe_model  # noqa: E402

DEFAULT_RECIPES = ("unet_bluemarble", "deeplabv3plus_bluemarble", "fcn_bluemarble")


def with_keras_batch_norm(model):
    """A clone of ``model`` whose ``FusedBatchNormalization`` layers are Keras' own."""
    from keras_segen.layers import FusedBatchNormalization

    def clone(layer):
        cls = (keras.layers.BatchNormalization if isinstance(layer, FusedBatchNormalization)
               else layer.__class__)
        return cls.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", nargs="+", default=list(DEFAULT_RECIPES))
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--precision", default="float32",
                        choices=("float32", "mixed_bfloat16"))
    parser.add_argument("--json", default="runs/benchmarks/batch_norm_fusion.json")
    args = parser.parse_args(argv)
    if min(args.rounds, args.steps) < 1:
        parser.error("--rounds and --steps must be positive")

    from keras_segen import kinds
    from keras_segen.training.recipes import load_recipe

    rows = []
    for name in args.recipes:
        fused, data, batch = recipe_model(name, args.precision)
        recipe = load_recipe(name)
        plain = with_keras_batch_norm(fused)
        classes = int(recipe["kwargs"]["num_classes"])
        kinds.kind_of_recipe(recipe).compile(plain, recipe["train"],
                                             [f"class{i}" for i in range(classes)], None)
        runs = {}
        for label, model in (("fused", fused), ("keras", plain)):
            model.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # trace, warm up
            runs[label] = (lambda m: lambda: m.fit(data, steps_per_epoch=args.steps,
                                                   epochs=1, verbose=0))(model)
        rates = _common.interleaved(runs, rounds=args.rounds, work_per_round=args.steps * batch)
        keras.mixed_precision.set_global_policy("float32")
        fused_rate, keras_rate = rates["fused"]["best_per_s"], rates["keras"]["best_per_s"]
        rows.append({"recipe": name, "batch": batch, "keras": keras_rate, "fused": fused_rate,
                     "speedup": fused_rate / keras_rate,
                     "cpu_speedup": rates["fused"]["best_per_cpu_s"]
                     / rates["keras"]["best_per_cpu_s"]})
    where = _common.machine()
    print(_common.format_table(
        rows, [("recipe", "recipe", "s"), ("batch", "batch", "d"),
               ("keras", "Keras BN img/s", ".1f"), ("fused", "fused BN img/s", ".1f"),
               ("speedup", "fused / Keras", ".2f"), ("cpu_speedup", "per CPU-s", ".2f")],
        f"Training with fused vs Keras batch norm ({args.precision}), {where['cpu']}, "
        f"{where['cores']} cores, load {where['load_average_at_start']:.1f} at start"))
    _common.write_json(args.json, {"machine": where, "precision": args.precision, "rows": rows})
    return rows


if __name__ == "__main__":
    main()
