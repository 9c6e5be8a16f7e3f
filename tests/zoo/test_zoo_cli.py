"""``keras-segen list``, ``info`` and ``zoo`` as users run them: in a subprocess; and the
index's hash of each card, which ``load`` checks."""
import hashlib
import json
import os
import subprocess
import sys

import pytest

import keras_segen
from keras_segen import cli, registry
from keras_segen.zoo import ArtifactIntegrityError
from keras_segen.zoo.artifacts import sha256_file

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
    card = keras_segen.get_card(TINY)
    expected = next(r["sha256"] for r in card["files"] if r["path"].endswith("overlays.png"))
    result = run_cli("zoo", "verify")
    assert result.returncode == 1
    assert f"{TINY}: FAILED (1 of {len(card['files'])} files differ" in result.stdout
    assert "0 files sha256-checked" not in result.stdout
    assert f"artifacts/{TINY}/samples/test_overlays.png: sha256 {sha256_file(path)}" \
        in result.stdout and f"the card says {expected}" in result.stdout
    result = run_cli("zoo", "index", "--check")
    assert result.returncode == 0 and "up to date" in result.stdout


def _replace_artifact_and_card(zoo):
    """Swap in another model (fresh weights) and a card that describes it, as someone
    replacing both would; the index is left as it was."""
    card_file = zoo / "cards" / f"{TINY}.json"
    card = json.loads(card_file.read_text())
    model_file = zoo / "artifacts" / TINY / "model.keras"
    registry.build_without_pretrained(card["arch"], card["kwargs"]).save(model_file)
    record = next(r for r in card["files"] if r["path"].endswith("/model.keras"))
    card["size_bytes"] += model_file.stat().st_size - record["bytes"]
    record.update(bytes=model_file.stat().st_size, sha256=sha256_file(model_file))
    card_file.write_text(json.dumps(card, indent=2) + "\n")
    return card_file


def test_a_card_replaced_with_its_artifact_is_refused_until_the_index_is_rebuilt(
        zoo_copy, capsys):
    recorded = json.loads((zoo_copy / "index.json").read_text())["entries"][TINY]["card_sha256"]
    card_file = _replace_artifact_and_card(zoo_copy)
    actual = hashlib.sha256(card_file.read_bytes()).hexdigest()
    for call in (keras_segen.load, keras_segen.get_card):
        with pytest.raises(ArtifactIntegrityError) as raised:
            call(TINY)
        message = str(raised.value)
        assert str(card_file) in message and actual in message and recorded in message
        assert "keras-segen zoo index" in message
    assert cli.main(["zoo", "index", "--check"]) == 1  # the maintainers' check agrees
    assert f"stale for: {TINY}" in capsys.readouterr().out
    assert cli.main(["zoo", "verify"]) == 1  # reported as failed, not a crash
    out = capsys.readouterr().out
    assert f"{TINY}: FAILED (files not checked" in out
    assert f"note: zoo card {card_file} has sha256" in out
    assert cli.main(["zoo", "index"]) == 0  # a maintainer accepts the new card
    assert cli.main(["zoo", "index", "--check"]) == 0
    assert keras_segen.load(TINY).compiled
