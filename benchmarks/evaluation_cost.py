"""What evaluation and inference cost: FID/KID/IS on N samples (the zoo's Fashion-MNIST
feature classifier), the sampling loop of every generative family at batch 256, and
whole-region segmentation inference with the zoo U-Net.

    python benchmarks/evaluation_cost.py [--num 10000] [--rounds 3]

* FID/KID/IS: the DCGAN's ``--num`` samples against as many test images: embedding
  them (the feature classifier, batch 256), then FID, KID (100 subsets of 1000) and IS
  from the features. Real features are cached by the evaluator in training runs, so a
  run pays the generated side once and the real side once per dataset.
* Sampling: ``model.generate(256, seed=...)`` (pix2pix: ``translate`` of 256 condition
  maps) of the zoo's trained models, ms per image, best of ``--rounds``.
* Segmentation: ``keras_segen.inference.predict_mask`` on one 384x384 region (one
  window), regions/s and ms per region, best of ``--rounds``.
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import _common  # noqa: E402

SAMPLERS = ("dcgan_fashion_mnist", "wgangp_fashion_mnist", "cgan_fashion_mnist",
            "stylegan_fashion_mnist", "vae_fashion_mnist", "cvae_fashion_mnist",
            "ddim_fashion_mnist", "ddim_bluemarble", "pixelcnn_fashion_mnist",
            "pix2pix_bluemarble")
PARTS = ("features", "sampling", "segmentation")
REGION = 384


def _best_seconds(run, rounds):
    run()  # trace and warm up
    rates = _common.interleaved({"run": run}, rounds=rounds, work_per_round=1)
    return 1.0 / rates["run"]["best_per_s"]


def _zoo_model(name):
    """The zoo's trained model, or the recipe's architecture untrained when its weights
    are not here (the cost is the same)."""
    import keras_segen

    try:
        return keras_segen.load(name), "trained"
    except FileNotFoundError:
        return keras_segen.load(name, weights=False), "untrained (no weights here)"
    except KeyError:  # a recipe without a zoo entry yet: its architecture
        from keras_segen import registry
        from keras_segen.training.recipes import load_recipe

        recipe = load_recipe(name)
        return (registry.build(recipe["arch"], **recipe["kwargs"]),
                "untrained (recipe only, no zoo entry)")


def feature_metric_rows(num, rounds):
    from keras_segen import datasets
    from keras_segen.evaluation.feature_models import feature_classifier
    from keras_segen.metrics import feature_distances as fd

    test, _ = datasets.load("fashion_mnist", "test", scale="unit")
    real = next(iter(test.map(lambda x, y: x).batch(num))).numpy()
    generator, _ = _zoo_model("dcgan_fashion_mnist")
    fake = generator.generate(len(real), seed=0, batch_size=256)
    extractor = feature_classifier()
    found = {}
    seconds = {"embed": _best_seconds(lambda: found.update(
        embedded=extractor.predict(fake)), rounds)}
    real_features, _ = extractor.predict(real)
    fake_features, probabilities = found["embedded"]
    seconds["fid"] = _best_seconds(
        lambda: found.update(fid=fd.fid_from_features(fake_features, real_features)), rounds)
    seconds["kid"] = _best_seconds(
        lambda: found.update(kid=fd.kid_from_features(fake_features, real_features)[0]), rounds)
    seconds["is"] = _best_seconds(
        lambda: found.update(is_=fd.inception_score(probabilities)[0]), rounds)
    n = len(real)
    rows = [{"what": f"embed {n} images (feature classifier)", "seconds": seconds["embed"],
             "ms_img": 1e3 * seconds["embed"] / n},
            {"what": f"FID from features ({n} vs {n})", "seconds": seconds["fid"],
             "value": found["fid"]},
            {"what": f"KID from features (100 x {min(1000, n)})", "seconds": seconds["kid"],
             "value": found["kid"]},
            {"what": f"IS from probabilities ({n})", "seconds": seconds["is"],
             "value": found["is_"]}]
    rows.append({"what": f"FID+KID+IS of {n} samples (embed + the three)",
                 "seconds": sum(seconds.values()), "ms_img": 1e3 * sum(seconds.values()) / n})
    return rows


def sampling_rows(rounds, batch=256, samplers=SAMPLERS):
    """``generate(batch)`` (``translate`` for pix2pix) of each entry, at the sampling
    settings of its recipe (a diffusion model's ``sampling_steps``)."""
    rows = []
    for name in samplers:
        model, weights = _zoo_model(name)
        if name.startswith("pix2pix"):  # translates condition maps: no prior to sample
            height, width = model.generator.input_shape[1:3]
            masks = np.random.default_rng(0).integers(
                0, model.condition_channels, (batch, height or 64, width or 64))
            seconds = _best_seconds(lambda: model.translate(masks, batch_size=batch), rounds)
            how = "translate"
        else:
            seconds = _best_seconds(lambda: model.generate(batch, seed=1, batch_size=batch),
                                    rounds)
            how = "generate"
        rows.append({"what": f"{name} {how}({batch})", "seconds": seconds,
                     "ms_img": 1e3 * seconds / batch, "weights": weights})
    return rows


def segmentation_rows(rounds):
    from keras_segen.inference import predict_mask

    model, weights = _zoo_model("unet_bluemarble")
    region = np.random.default_rng(0).integers(0, 256, (REGION, REGION, 3), dtype=np.uint8)
    seconds = _best_seconds(lambda: predict_mask(model, region), rounds)
    return [{"what": f"unet_bluemarble predict_mask {REGION}x{REGION} region",
             "seconds": seconds, "ms_img": 1e3 * seconds, "per_s": 1.0 / seconds,
             "weights": weights}]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num", type=int, default=10000, help="samples for FID/KID/IS")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default="runs/benchmarks/evaluation_cost.json")
    parser.add_argument("--only", choices=PARTS, action="append",
                        help="measure only this part (repeatable; default: all)")
    parser.add_argument("--samplers", nargs="+", choices=SAMPLERS, default=SAMPLERS,
                        metavar="RECIPE", help="the zoo entries whose sampling is timed")
    args = parser.parse_args(argv)
    if args.num < 2:
        parser.error(f"--num must be at least 2 (FID needs two samples), got {args.num}")
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    machine = _common.machine()
    parts = args.only or PARTS
    rows = ((feature_metric_rows(args.num, args.rounds) if "features" in parts else [])
            + (sampling_rows(args.rounds, samplers=args.samplers) if "sampling" in parts else [])
            + (segmentation_rows(args.rounds) if "segmentation" in parts else []))
    columns = [("what", "what", ""), ("seconds", "seconds", ".3f"),
               ("ms_img", "ms/img (or /region)", ".3f"), ("per_s", "regions/s", ".2f"),
               ("value", "value", ".4g"), ("weights", "weights", "")]
    print(_common.format_table(rows, columns, f"Evaluation and inference cost on "
                                              f"{machine['cpu']} ({machine['cores']} cores), "
                                              f"best of {args.rounds}"))
    _common.write_json(args.json, {"machine": machine, "num": args.num, "rows": rows})
    return rows


if __name__ == "__main__":
    main()
