"""Peak resident memory of training each zoo recipe for a few steps on its real data,
one child process per recipe (the high-water mark ``VmHWM`` of that child's own memory
map), next to the peak of a child that only imports TensorFlow and keras_segen. Not the
child's ``ru_maxrss``: Linux carries the parent's high-water mark across fork and exec
into it, so from ``run_all.py`` (a parent grown to 2.7 GB by the earlier benchmarks) every
child reported at least 2.7 GB.

    python benchmarks/peak_memory.py [--steps 20] [RECIPE ...]
"""
import argparse
import json
import os
import subprocess
import sys

import _common

_CHILD = r"""
import json, resource, sys
import keras_segen
from keras_segen import registry
from keras_segen.training.compiling import compile_for_recipe
from keras_segen.training.recipes import load_recipe
name, steps = sys.argv[1], int(sys.argv[2])
if name != "-":
    recipe = load_recipe(name)
    data_cfg, train_cfg = recipe["dataset"], recipe["train"]
    batch = int(train_cfg["batch_size"])
    if recipe["task"] == "segmentation":
        from keras_segen import datasets
        ds, info = datasets.load(data_cfg["name"], "train", **data_cfg.get("options", {}),
                                 **data_cfg.get("train_options", {}), seed=0)
        pipe = datasets.make_pipeline(ds, batch_size=batch, training=True, seed=0).repeat()
        names = info.class_names
    else:
        from keras_segen.evaluation.generation import load_recipe_split, model_kind
        ds, info = load_recipe_split(recipe, data_cfg.get("train_split", "train"), training=True)
        names = None
    model = registry.build(recipe["arch"], **recipe["kwargs"])
    if recipe["task"] == "generation":
        from keras_segen import datasets
        keep = model_kind(model) == "pix2pix" or bool(getattr(model, "num_classes", 0))
        pipe = datasets.make_pipeline(ds, batch_size=batch, training=True, seed=0, repeat=True)
        if not keep:
            pipe = pipe.map(lambda images, labels: images)
    compile_for_recipe(model, recipe, names)
    model.fit(pipe, steps_per_epoch=steps, epochs=1, verbose=0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # fallback off Linux
try:
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
print(json.dumps({"maxrss_kb": peak}))
"""


def peak_kb(name, steps):
    done = subprocess.run([sys.executable, "-c", _CHILD, name, str(steps)], check=True,
                          capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return json.loads(done.stdout.strip().splitlines()[-1])["maxrss_kb"]


def main(argv=None):
    from keras_segen.training.recipes import list_recipes, load_recipe

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("recipes", nargs="*")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--json", default="runs/benchmarks/peak_memory.json")
    args = parser.parse_args(argv)
    names = args.recipes or [n for n in list_recipes()
                             if load_recipe(n)["task"] in ("segmentation", "generation")
                             and load_recipe(n)["dataset"]["name"] in
                             ("bluemarble", "bluemarble_pairs", "fashion_mnist")]
    baseline = peak_kb("-", 0)
    rows = []
    for name in names:
        kb = peak_kb(name, args.steps)
        recipe = load_recipe(name)
        rows.append({"recipe": name, "batch": recipe["train"]["batch_size"],
                     "peak_mib": kb / 1024, "over_import_mib": (kb - baseline) / 1024})
        print(f"{name}: {kb / 1024:.0f} MiB", file=sys.stderr)
    columns = [("recipe", "recipe", ""), ("batch", "batch", "d"),
               ("peak_mib", "peak RSS MiB", ".0f"), ("over_import_mib", "over import MiB", ".0f")]
    print(_common.format_table(rows, columns,
                               f"Peak memory, {args.steps} training steps "
                               f"(import alone: {baseline / 1024:.0f} MiB)"))
    _common.write_json(args.json, {"machine": _common.machine(), "import_only_mib":
                                   baseline / 1024, "steps": args.steps, "rows": rows})
    return rows


if __name__ == "__main__":
    main()
