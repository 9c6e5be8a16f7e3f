"""Train the Fashion-MNIST feature classifier behind the zoo's FID/KID/IS.

Trains ``fashion_classifier`` on the ``train`` split (55,000 images), picks the epoch
with the best ``val`` accuracy, reports ``test`` accuracy, saves an uncompiled
``.keras`` model (no optimizer state: it is a frozen feature extractor), and measures
the real-vs-real floor: FID and KID between features of a random subset of the train
split and the test split.

    python scripts/train_feature_classifier.py \
        --out zoo/artifacts/fashion_classifier/model.keras --epochs 8

    # only re-measure accuracy and the floor of an existing model:
    python scripts/train_feature_classifier.py \
        --out zoo/artifacts/fashion_classifier/model.keras --evaluate-only
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_segen  # noqa: E402
from keras_segen.datasets import fashion_mnist  # noqa: E402
from keras_segen.metrics import feature_distances  # noqa: E402

ARCH = "fashion_classifier"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="path of the .keras file to write")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--feature-dim", type=int, default=128)
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 64, 128],
                        help="conv widths per stage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=("mixed_bfloat16", "float32"),
                        default="mixed_bfloat16",
                        help="training dtype policy (bf16 is ~2x faster on this CPU); the "
                             "saved model is always float32")
    parser.add_argument("--data-dir", default=None, help="folder with the Fashion-MNIST idx files")
    parser.add_argument("--floor-samples", type=int, default=10000,
                        help="images per side for the real-vs-real FID/KID floor (0: skip)")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="load --out instead of training; report accuracy and the floor")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    return parser.parse_args(argv)


def make_dataset(split, batch_size, data_dir, *, training=False, seed=0):
    dataset, _ = fashion_mnist.load(split, scale="unit", data_dir=data_dir)
    dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(10000, seed=seed, reshuffle_each_iteration=True)
        # Random left-right flips after .cache(): clothing classes are mirror-invariant.
        def flip(image, label):
            return tf.image.random_flip_left_right(image, seed=seed), label

        dataset = dataset.map(flip, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def train(args):
    keras.utils.set_random_seed(args.seed)
    keras.mixed_precision.set_global_policy(args.precision)
    train_data = make_dataset("train", args.batch_size, args.data_dir, training=True, seed=args.seed)
    val_data = make_dataset("val", 512, args.data_dir)
    kwargs = {"feature_dim": args.feature_dim, "widths": list(args.widths)}
    model = keras_segen.build(ARCH, **kwargs)
    num_train = len(fashion_mnist.load_arrays("train", data_dir=args.data_dir)[1])
    steps = args.epochs * int(np.ceil(num_train / args.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    best = {}

    class KeepBest(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs["val_accuracy"] > best.get("val_accuracy", -1.0):
                best.update(val_accuracy=float(logs["val_accuracy"]), epoch=epoch + 1,
                            weights=self.model.get_weights())

    start = time.time()
    model.fit(train_data, validation_data=val_data, epochs=args.epochs,
              callbacks=[KeepBest()], verbose=2)
    seconds = time.time() - start
    # Ship an uncompiled copy: a frozen feature extractor needs no optimizer state.
    keras.mixed_precision.set_global_policy("float32")
    shipped = keras_segen.build(ARCH, **kwargs)
    shipped.set_weights(best["weights"])
    return shipped, {"arch": ARCH, "kwargs": kwargs, "epochs": args.epochs,
                     "best_epoch": best["epoch"], "val_accuracy": best["val_accuracy"],
                     "train_seconds": round(seconds, 1)}


def accuracy(model, split, data_dir):
    images, labels = fashion_mnist.load_arrays(split, data_dir=data_dir)
    probabilities = model.predict(images[..., None].astype("float32") / 255.0,
                                  batch_size=512, verbose=0)
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))


def real_vs_real_floor(model, num_samples, data_dir, seed):
    """FID/KID between ``num_samples`` random train-split images and test-split images."""
    extractor = feature_distances.FeatureExtractor(model, input_range=(0.0, 1.0))
    train_images, _ = fashion_mnist.load_arrays("train", data_dir=data_dir)
    test_images, _ = fashion_mnist.load_arrays("test", data_dir=data_dir)
    num_samples = min(num_samples, len(train_images), len(test_images))
    rng = np.random.default_rng(seed)
    train_images = train_images[rng.choice(len(train_images), num_samples, replace=False)]
    test_images = test_images[:num_samples]
    train_features, _ = extractor.predict(train_images)  # uint8 -> read as [0, 255]
    test_features, test_probabilities = extractor.predict(test_images)
    kid, kid_std = feature_distances.kid_from_features(train_features, test_features, seed=seed)
    score, score_std = feature_distances.inception_score(test_probabilities)
    return {
        "num_train_images": int(num_samples), "num_test_images": int(len(test_images)),
        "fid": feature_distances.fid_from_features(train_features, test_features),
        "kid": kid, "kid_std": kid_std,
        "inception_score_test": score, "inception_score_test_std": score_std,
    }


def save_atomically(model, path):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".keras", dir=folder)
    os.close(handle)
    try:
        model.save(temporary)
        os.chmod(temporary, 0o644)  # mkstemp makes files private; this one is shared
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def main(argv=None):
    args = parse_args(argv)
    if args.evaluate_only:
        model = keras.saving.load_model(args.out)
        results = {"model": args.out}
    else:
        model, results = train(args)
        save_atomically(model, args.out)
        results["model"] = args.out
    results["num_params"] = int(model.count_params())
    results["val_accuracy"] = accuracy(model, "val", args.data_dir)
    results["test_accuracy"] = accuracy(model, "test", args.data_dir)
    if args.floor_samples:
        results["real_vs_real_floor"] = real_vs_real_floor(
            model, args.floor_samples, args.data_dir, args.seed)
    results["evaluated_with" if args.evaluate_only else "trained_with"] = {
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "python": platform.python_version(), "seed": args.seed,
        "precision": None if args.evaluate_only else args.precision,
        "command": " ".join(["python", __file__.split("/scripts/")[-1] if "/scripts/" in __file__
                             else __file__, *(sys.argv[1:] if argv is None else argv)]),
    }
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
