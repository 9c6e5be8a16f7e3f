"""Training throughput of keras_segen models vs an independent implementation of the same
architecture, measured in one process with interleaved rounds, and each model's achieved
training FLOP/s as a fraction of the machine's dense matmul FLOP/s.

    python benchmarks/training_throughput.py [--rounds 6] [--steps 10] [--json FILE]

Pairs (same input size, batch, optimizer and loss on both sides):
- unet: keras_segen ``unet`` (unet_bluemarble recipe sizes) vs a plain-Keras U-Net;
- deeplabv3plus: keras_segen ``deeplabv3plus`` (ResNet-18 width 64, output stride 16,
  ASPP 256, low-level 48) vs keras-hub ``DeepLabV3ImageSegmenter`` on a keras-hub
  ResNet-18; the two decoders differ (paper's two 3x3 convs vs keras-hub's one 1x1), so
  FLOPs per image are listed and FLOP/s compared too;
- dcgan: keras_segen ``dcgan`` (dcgan_fashion_mnist recipe) vs the keras.io-style
  ``train_step`` in peers.py;
plus "unet (recipe compile)": the same U-Net compiled as its recipe trains it (CE + Dice
loss, pixel accuracy / mIoU / per-class IoU metrics) vs plain CE, i.e. what our losses
and metrics cost per step.
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import _common  # noqa: E402
import peers  # noqa: E402
from hardware_limit import matmul_flops_per_s  # noqa: E402


def _segmentation_round(model, images, masks, steps):
    data = tf.data.Dataset.from_tensors((images, masks)).repeat()

    def run():
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return run


def _compile_plain(model):
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[])  # keras-hub's "auto" would add an accuracy metric
    return model


def segmentation_pair(ours, peer, *, size, batch, num_classes, steps, rounds, label):
    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((batch, size, size, 3), dtype=np.float32))
    masks = tf.constant(rng.integers(0, num_classes, (batch, size, size)), tf.int32)
    runs = {"keras_segen": _segmentation_round(ours, images, masks, steps),
            "peer": _segmentation_round(peer, images, masks, steps)}
    for run in runs.values():  # trace and warm up outside the timing
        run()
    rates = _common.interleaved(runs, rounds=rounds, work_per_round=steps * batch)
    flops = {name: 3 * _common.forward_flops(model, [(1, size, size, 3)])
             for name, model in (("keras_segen", ours), ("peer", peer))}
    return _row(label, rates, flops, ours, peer, f"{size}x{size}", batch)


def dcgan_pair(*, batch, steps, rounds):
    import keras_segen

    def compiled(model):
        model.compile(g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                      d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
        return model

    ours = compiled(keras_segen.build("dcgan", image_shape=(28, 28, 1), latent_dim=128,
                                      base_filters=32, label_smoothing=0.1, seed=0))
    ours.build((None, 28, 28, 1))
    peer = compiled(peers.PlainDCGAN((28, 28, 1), 128, 32, label_smoothing=0.1))
    images = tf.constant(np.random.default_rng(0).uniform(-1, 1, (batch, 28, 28, 1)),
                         tf.float32)
    data = tf.data.Dataset.from_tensors(images).repeat()

    def round_of(model):
        return lambda: model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)

    runs = {"keras_segen": round_of(ours), "peer": round_of(peer)}
    for run in runs.values():
        run()
    rates = _common.interleaved(runs, rounds=rounds, work_per_round=steps * batch)
    flops = {}
    for name, model in (("keras_segen", ours), ("peer", peer)):
        g = _common.forward_flops(model.generator, [(1, 128)])
        d = _common.forward_flops(model.discriminator, [(1, 28, 28, 1)])
        # Per real image and step: D step = G fwd + D fwd/bwd on real and fake (3 x 2D);
        # G step = G and D fwd/bwd (3G + 3D).
        flops[name] = g + 6 * d + 3 * g + 3 * d
    return _row("dcgan", rates, flops, ours, peer, "28x28", batch)


def _params(model):
    """Weights of a model, or of a GAN's two networks (a subclassed GAN is never built)."""
    networks = [getattr(model, n) for n in ("generator", "discriminator") if hasattr(model, n)]
    return sum(n.count_params() for n in networks) if networks else model.count_params()


def _row(label, rates, flops, ours, peer, size, batch):
    ours_rate = rates["keras_segen"]["best_per_s"]
    peer_rate = rates["peer"]["best_per_s"]
    return {
        "model": label, "input": size, "batch": batch,
        "ours_img_s": ours_rate, "peer_img_s": peer_rate, "ratio": ours_rate / peer_rate,
        "cpu_ratio": rates["keras_segen"]["best_per_cpu_s"] / rates["peer"]["best_per_cpu_s"],
        "ours_params": _params(ours), "peer_params": _params(peer),
        "ours_gflop_img": flops["keras_segen"] / 1e9, "peer_gflop_img": flops["peer"] / 1e9,
        "ours_gflop_s": ours_rate * flops["keras_segen"] / 1e9,
        "peer_gflop_s": peer_rate * flops["peer"] / 1e9,
        "rounds": rates,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    parser.add_argument("--json", default="runs/benchmarks/training_throughput.json")
    parser.add_argument("--only", nargs="*", help="subset of: unet unet_recipe deeplabv3plus dcgan")
    args = parser.parse_args(argv)
    import keras_segen
    from keras_segen.training.compiling import compile_for_recipe
    from keras_segen.training.recipes import load_recipe

    wanted = set(args.only or ["unet", "unet_recipe", "deeplabv3plus", "dcgan"])
    rows = []
    unet_kwargs = dict(num_classes=3, depth=4, base_filters=16)
    if "unet" in wanted:
        rows.append(segmentation_pair(
            _compile_plain(keras_segen.build("unet", input_shape=(64, 64, 3), **unet_kwargs)),
            _compile_plain(peers.plain_unet((64, 64, 3), **unet_kwargs)),
            size=64, batch=16, num_classes=3, steps=args.steps, rounds=args.rounds,
            label="unet"))
    if "unet_recipe" in wanted:
        recipe = load_recipe("unet_bluemarble")
        ours = keras_segen.build("unet", **{**recipe["kwargs"], "input_shape": (64, 64, 3)})
        compile_for_recipe(ours, recipe, ["ocean", "land", "lake"])
        same_size = {k: recipe["kwargs"][k] for k in ("num_classes", "depth", "base_filters")}
        rows.append(segmentation_pair(
            ours, _compile_plain(peers.plain_unet((64, 64, 3), **same_size)),
            size=64, batch=16, num_classes=3, steps=args.steps, rounds=args.rounds,
            label="unet (recipe loss+metrics)"))
    if "deeplabv3plus" in wanted:
        ours = keras_segen.build(
            "deeplabv3plus", input_shape=(128, 128, 3), num_classes=3, encoder="resnet18",
            encoder_width=64, output_stride=16, aspp_filters=256, low_level_filters=48,
            decoder_filters=256)
        rows.append(segmentation_pair(
            _compile_plain(ours), _compile_plain(peers.hub_deeplabv3((128, 128, 3), 3)),
            size=128, batch=8, num_classes=3, steps=args.steps, rounds=args.rounds,
            label="deeplabv3plus"))
    if "dcgan" in wanted:
        rows.append(dcgan_pair(batch=128, steps=args.steps, rounds=args.rounds))

    peak = matmul_flops_per_s()
    for row in rows:
        row["ours_of_matmul_f32"] = row["ours_gflop_s"] * 1e9 / peak["float32"]
        row["peer_of_matmul_f32"] = row["peer_gflop_s"] * 1e9 / peak["float32"]
    columns = [("model", "model", ""), ("input", "input", ""), ("batch", "batch", "d"),
               ("ours_img_s", "ours img/s", ".1f"), ("peer_img_s", "peer img/s", ".1f"),
               ("ratio", "ours/peer", ".2f"), ("cpu_ratio", "per CPU-s", ".2f"),
               ("ours_gflop_img", "ours GFLOP/img", ".3f"),
               ("peer_gflop_img", "peer GFLOP/img", ".3f"),
               ("ours_gflop_s", "ours GFLOP/s", ".1f"),
               ("ours_of_matmul_f32", "of f32 matmul", ".1%")]
    print(_common.format_table(rows, columns, "Training throughput (float32, fit, in-memory batch)"))
    print(f"dense matmul: float32 {peak['float32'] / 1e9:.0f} GFLOP/s, "
          f"bfloat16 {peak['bfloat16'] / 1e9:.0f} GFLOP/s")
    _common.write_json(args.json, {"machine": _common.machine(), "matmul_flop_s": peak,
                                   "rows": rows})
    return rows


if __name__ == "__main__":
    main()
