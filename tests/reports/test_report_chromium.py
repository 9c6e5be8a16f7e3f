"""The reports of a tiny segmentation run and a tiny generation run open in headless
Chromium and every image renders (screenshots in /tmp/report_shots/ to look at)."""
import json
import pathlib
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
from report_helpers import decoded_images

from keras_segen import training

CHROMIUM = pathlib.Path("/usr/bin/chromium")
SHOTS = pathlib.Path("/tmp/report_shots")
# Writes, for every <img>, whether it decoded (naturalWidth > 0) into the DOM.
PROBE = """<script>
window.addEventListener("load", () => {
  const found = [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight]);
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
</script></body>"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="headless Chromium (Debian package "
                                                      "chromium) is not installed"),
]


def _chromium(*flags, url):
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", *flags, url],
            capture_output=True, text=True, timeout=120)


def check_in_chromium(page: pathlib.Path, name: str):
    """Every image of ``page`` renders in Chromium; returns the screenshot's path."""
    expected = len(decoded_images(page.read_text()))
    probed = page.with_name(f"probe_{page.name}")
    probed.write_text(page.read_text().replace("</body>", PROBE))
    done = _chromium("--dump-dom", "--virtual-time-budget=10000", url=probed.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    images = json.loads(found.group(1))
    assert len(images) == expected >= 4
    assert all(complete and width > 0 and height > 0 for complete, width, height in images), images
    SHOTS.mkdir(exist_ok=True)
    shot = SHOTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    _chromium(f"--screenshot={shot}", "--window-size=1400,3000", url=page.as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000
    return shot


def test_segmentation_run_report_renders(tmp_path):
    recipe = training.load_recipe("unet_bluemarble")
    recipe["kwargs"].update(depth=2, base_filters=4)
    recipe["dataset"]["options"]["tile_size"] = 32
    recipe["train"].update({"epochs": 2, "steps_per_epoch": 3, "batch_size": 4,
                            "overlay_tiles": 2, "time_budget_s": None})
    training.train(recipe, tmp_path)
    page = tmp_path / "report.html"
    assert "Held-out metrics" in page.read_text()  # rewritten after metrics.json
    check_in_chromium(page, "segmentation")
    shutil.copy(page, SHOTS / "segmentation_report.html")


def test_generation_run_report_renders(tmp_path, random_fashion_mnist):
    classifier = random_fashion_mnist(120, 40)
    recipe = {
        "name": "tiny_dcgan", "task": "generation", "arch": "dcgan",
        "kwargs": {"latent_dim": 4, "base_filters": 4, "seed": 0},
        "dataset": {"name": "fashion_mnist", "options": {"scale": "tanh"},
                    "train_split": "train", "val_split": None, "test_split": "test",
                    "limit": {"test": 24}},
        "train": {"epochs": 3, "batch_size": 8, "steps_per_epoch": 2, "seed": 0,
                  "samples": {"num_images": 16}},
        "evaluation": {"kid_subset_size": 8, "kid_subsets": 3, "baselines": False,
                       "classifier": str(classifier)},
    }
    training.train(recipe, tmp_path / "run")
    page = tmp_path / "run" / "report.html"
    text = page.read_text()
    assert "samples/ per epoch" in text and "Nearest training images" in text
    assert "final FID" in text
    check_in_chromium(page, "generation")
    shutil.copy(page, SHOTS / "generation_report.html")
    assert np.isfinite(json.loads((tmp_path / "run" / "metrics.json").read_text())
                       ["fashion_mnist/test"]["fid"])
