"""benchmarks/gpu_check.py as a CPU dry run: the rows and checks it reports (no
wall-clock assertion: benchmarks are not tests)."""
import json

import pytest

import gpu_check

# The U-Net's training step takes ~10 s to trace per mode on 2 cores: the default run
# checks the GAN and the VAE, the slow one adds the U-Net and XLA.
FAST = ["dcgan_fashion_mnist", "vae_fashion_mnist"]
ALL = ["unet_bluemarble", *FAST]
SCALED = {"unet_bluemarble": ["optimizer"], "vae_fashion_mnist": ["optimizer"],
          "dcgan_fashion_mnist": ["g_optimizer", "d_optimizer"]}


def _dry_run(tmp_path, capsys, recipes, modes):
    out = tmp_path / "gpu_check.json"
    rows = gpu_check.main(["--recipes", *recipes, "fashion_classifier", "deeplabv3plus_voc",
                           "--steps", "1", "--batch-size", "2", "--modes", *modes,
                           "--json", str(out)])
    return rows, json.loads(out.read_text()), capsys.readouterr().out


def _check_rows(rows, recipes, modes):
    trained = [row for row in rows if "skipped" not in row]
    assert [(r["recipe"], r["mode"]) for r in trained] == [(n, m) for n in recipes
                                                           for m in modes]
    for row in trained:
        assert "error" not in row, row["error"]
        assert row["loss_check"]["ok"], row
        assert set(row["loss_check"]["losses"]) == set(row["loss_check"]["reference"])
        if row["mode"].startswith("mixed_float16"):
            scale = row["loss_scale"]
            assert scale["ok"], scale
            assert sorted(scale["optimizers"]) == sorted(SCALED[row["recipe"]])
            for entry in scale["optimizers"].values():
                assert entry["loss_scale_optimizer"] and entry["applied_steps"] >= 1
            assert all(scale["moved"].values())
            assert "img_s" not in row  # emulated float16 on a CPU: no timing claim
        else:
            assert "loss_scale" not in row and row["img_s"] > 0


def test_cpu_dry_run_reports_rows_and_checks(tmp_path, capsys):
    modes = ["float32", "mixed_float16"]
    rows, written, printed = _dry_run(tmp_path, capsys, FAST, modes)
    _check_rows(rows, FAST, modes)
    skipped = {r["recipe"]: r["skipped"] for r in rows if "skipped" in r}
    assert skipped["fashion_classifier"].startswith("trained by its own script")
    assert skipped["deeplabv3plus_voc"].startswith("its data does not load here")
    assert "CPU DRY RUN" in printed and "fashion_classifier: skipped" in printed
    assert written["dry_run"] is True and written["rows"] == json.loads(json.dumps(rows))
    assert set(written["matmul_flop_s"]) == {"float32", "float16", "bfloat16"}
    # The VAE's summed loss overflows float16 at the initial scale: steps were skipped
    # and the scale came down before one was applied.
    vae = next(r for r in rows if r["recipe"] == "vae_fashion_mnist"
               and r["mode"] == "mixed_float16")
    entry = vae["loss_scale"]["optimizers"]["optimizer"]
    assert vae["loss_scale"]["steps_run"] > entry["applied_steps"]
    assert entry["scale"] < 2**15


@pytest.mark.slow
def test_cpu_dry_run_with_xla(tmp_path, capsys):
    rows, _, _ = _dry_run(tmp_path, capsys, ALL, list(gpu_check.MODES))
    _check_rows(rows, ALL, list(gpu_check.MODES))


def test_loss_check_tolerance():
    reference = {"loss": 2.0, "d_loss": 0.5}
    assert gpu_check.loss_check({"loss": 2.03, "d_loss": 0.505}, reference)["ok"]
    assert not gpu_check.loss_check({"loss": 2.2, "d_loss": 0.5}, reference)["ok"]
    assert not gpu_check.loss_check({"loss": float("nan"), "d_loss": 0.5}, reference)["ok"]
