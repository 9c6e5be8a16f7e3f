"""SIGKILL ``keras-segen export`` at random moments: TF Serving's model folder then holds
the old version or the complete new one, never half of one, and the next export cleans
up whatever the killed one left (temporary folders, a version cut mid-swap)."""
import os
import random
import subprocess
import sys

import pytest

import keras_segen
from keras_segen.serving.atomic import recover_model_dir
from sigkill import kill_after, timed_run

COMPLETE = ("saved_model.pb", "variables", "assets", "assets.extra/tf_serving_warmup_requests")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    keras_segen.build("unet", num_classes=3, base_filters=4, depth=2).save(path)
    return path


def _export(model_path, base):
    return [sys.executable, "-m", "keras_segen", "export", str(model_path), "--base",
            str(base), "--name", "seg", "--version", "1", "--overwrite"]


def _check_versions(model_dir):
    """Every published version is complete; returns the leftovers of killed exports."""
    if not model_dir.is_dir():
        return []
    leftovers = []
    for child in model_dir.iterdir():
        if child.name.isdigit():
            missing = [p for p in COMPLETE if not (child / p).exists()]
            assert not missing, f"half a version published: {child} lacks {missing}"
        else:
            leftovers.append(child.name)
    return leftovers


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_killed_exports_leave_a_whole_version_or_none(tiny_model, tmp_path, seed):
    rng = random.Random(seed)
    base = tmp_path / "serving"
    duration = timed_run(_export(tiny_model, base))  # a first good version to overwrite
    (base / "seg" / "1" / "assets" / "first").write_text("v1")
    kills_with_leftovers = 0
    for _ in range(4):
        kill_after(_export(tiny_model, base), rng.uniform(0.3 * duration, 1.05 * duration))
        leftovers = _check_versions(base / "seg")
        kills_with_leftovers += bool(leftovers)
        recover_model_dir(base / "seg")  # what the next export does first
        assert (base / "seg" / "1").is_dir(), "a cut swap must give the old version back"
        assert _check_versions(base / "seg") == []
    subprocess.run(_export(tiny_model, base), check=True, capture_output=True)
    assert sorted(p.name for p in (base / "seg").iterdir()) == ["1"]
    print(f"seed {seed}: {kills_with_leftovers} of 4 kills left a temporary folder")


def test_a_cut_swap_gives_the_old_version_back(tmp_path):
    model_dir = tmp_path / "seg"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (model_dir / f".old-1-{dead}-abc").mkdir(parents=True)
    (model_dir / f".old-1-{dead}-abc" / "saved_model.pb").write_text("old")
    (model_dir / f".tmp-1-{dead}-def").mkdir()
    (model_dir / f".tmp-2-{os.getpid()}-ghi").mkdir()  # a live exporter's: left alone
    handled = recover_model_dir(model_dir)
    assert sorted(handled) == [f".old-1-{dead}-abc", f".tmp-1-{dead}-def"]
    assert (model_dir / "1" / "saved_model.pb").read_text() == "old"
    assert sorted(p.name for p in model_dir.iterdir()) == [f".tmp-2-{os.getpid()}-ghi", "1"]
