"""``keras-segen list``, ``info`` and ``zoo`` as users run them: in a subprocess."""
import os
import subprocess
import sys

from zoo_helpers import TINY


def run_cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "keras_segen", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=600)


def test_list_filters_by_task_and_info_prints_the_card():
    result = run_cli("list", "--task", "classification")
    assert result.returncode == 0, result.stderr
    assert "fashion_classifier" in result.stdout and "accuracy 0.9323 (test)" in result.stdout
    assert "unet_bluemarble" not in result.stdout.split("architectures")[0]
    result = run_cli("info", "fcn_voc")
    assert result.returncode == 0, result.stderr
    for text in ("fcn_voc  (segmentation, fcn8s)", "PASCAL VOC 2012", "tvmonitor",
                 "none: no trained weights here", "rebuild: keras-segen zoo build fcn_voc"):
        assert text in result.stdout


def test_zoo_verify_fails_on_a_tampered_artifact_and_index_check_passes(zoo_copy):
    path = zoo_copy / "artifacts" / TINY / "samples" / "test_overlays.png"
    path.write_bytes(path.read_bytes() + b"\0")
    result = run_cli("zoo", "verify")
    assert result.returncode == 1
    assert f"{TINY}: FAILED" in result.stdout and "test_overlays.png" in result.stdout
    result = run_cli("zoo", "index", "--check")
    assert result.returncode == 0 and "up to date" in result.stdout
