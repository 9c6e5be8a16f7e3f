"""An output folder belongs to one run: the lock, the recipe record, overwrite, stale
temporaries."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

from keras_segen.training import run_folder as rf
from keras_segen.training.recipes import load_recipe
from keras_segen.training.run_folder import (
    RunFolderBusy,
    RunFolderConflict,
    claim_run_folder,
    clean_stale_temporaries,
)

# A holder process that imports run_folder.py alone (stdlib only: no TensorFlow start-up).
_HOLDER = """
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("run_folder", sys.argv[1])
module = sys.modules["run_folder"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
with module.claim_run_folder(sys.argv[2], json.loads(sys.argv[3])):
    print("claimed", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def unet():
    return load_recipe("unet_bluemarble")


def _start_holder(out, recipe):
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, rf.__file__, str(out), json.dumps(recipe)],
        stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "claimed"
    return process


def test_fresh_claim_records_the_recipe_and_the_holder(tmp_path, unet):
    out = tmp_path / "runs" / "unet"
    with claim_run_folder(out, unet) as folder:
        assert folder.path == out and not folder.resumed
        record = json.loads((out / "run.json").read_text())
        assert record["recipe"] == unet
        holder = rf.read_lock_holder(out)
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    assert rf.read_lock_holder(out) is None  # emptied on release
    assert sorted(p.name for p in out.iterdir()) == [".lock", "run.json"]


def test_same_recipe_resumes_with_more_epochs_and_another_budget(tmp_path, unet):
    with claim_run_folder(tmp_path, unet):
        (tmp_path / "model.keras").write_bytes(b"x")
    created = json.loads((tmp_path / "run.json").read_text())["created"]
    more = json.loads(json.dumps(unet))
    more["train"].update(epochs=65, time_budget_s=None)
    with claim_run_folder(tmp_path, more) as folder:
        assert folder.resumed and (tmp_path / "model.keras").is_file()
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["recipe"]["train"]["epochs"] == 65 and record["created"] == created


def test_another_recipe_is_refused_naming_folder_recipe_and_field(tmp_path, unet):
    with claim_run_folder(tmp_path, unet):
        (tmp_path / "history.csv").write_text("epoch,loss\n0,1.0\n")
    fcn = load_recipe("fcn_bluemarble")
    with pytest.raises(RunFolderConflict) as info:
        with claim_run_folder(tmp_path, fcn):
            pass
    message = str(info.value)
    assert isinstance(info.value, ValueError) and "\n" not in message
    assert str(tmp_path) in message and "'unet_bluemarble'" in message
    assert "differs at arch: \"unet\" there, \"fcn8s\" here" in message
    # a change deep inside train is named by its path
    other = json.loads(json.dumps(unet))
    other["train"]["loss"][1][1] = 0.25
    with pytest.raises(RunFolderConflict, match=r"differs at train\.loss\[1\]\[1\]: 0.5 there, "
                                                r"0.25 here"):
        with claim_run_folder(tmp_path, other):
            pass
    renamed = {**unet, "name": "unet_copy"}
    with pytest.raises(RunFolderConflict, match="differs at name"):
        with claim_run_folder(tmp_path, renamed):
            pass
    assert (tmp_path / "history.csv").is_file()  # nothing was touched


def test_overwrite_removes_the_old_run(tmp_path, unet):
    with claim_run_folder(tmp_path, unet):
        for name in ("model.keras", "history.csv", "metrics.json", "model.keras.damaged"):
            (tmp_path / name).write_text("old")
        for name in ("backup", "logs", "samples"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "f").write_text("old")
    fcn = load_recipe("fcn_bluemarble")
    with claim_run_folder(tmp_path, fcn, overwrite=True) as folder:
        assert not folder.resumed and len(folder.removed) == 8
        assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "run.json"]
    assert json.loads((tmp_path / "run.json").read_text())["recipe"]["name"] == "fcn_bluemarble"


def test_a_folder_that_is_not_a_run_is_refused_even_with_overwrite(tmp_path, unet):
    (tmp_path / "images").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(RunFolderConflict, match="is not a keras_segen run folder "
                                                    r"\(it holds images, notes.txt\)"):
            with claim_run_folder(tmp_path, unet, overwrite=overwrite):
                pass
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "run.json").exists()
    with pytest.raises(RunFolderConflict, match="is a file"):
        with claim_run_folder(tmp_path / "notes.txt", unet):
            pass


def test_an_older_run_is_compared_by_its_metrics_recipe(tmp_path, unet):
    (tmp_path / "model.keras").write_text("m")
    (tmp_path / "metrics.json").write_text(json.dumps({"recipe": unet, "x": 1}))
    fcn = load_recipe("fcn_bluemarble")
    with pytest.raises(RunFolderConflict, match=r"recipe 'unet_bluemarble' \(metrics.json\)"):
        with claim_run_folder(tmp_path, fcn):
            pass
    with claim_run_folder(tmp_path, unet) as folder:
        assert folder.resumed
    assert json.loads((tmp_path / "run.json").read_text())["recipe"] == unet


def test_an_older_run_without_a_recipe_needs_overwrite(tmp_path, unet):
    (tmp_path / "backup").mkdir()
    (tmp_path / "history.csv").write_text("epoch\n0\n")
    with pytest.raises(RunFolderConflict, match="recipe is not recorded"):
        with claim_run_folder(tmp_path, unet):
            pass
    with claim_run_folder(tmp_path, unet, overwrite=True):
        assert not (tmp_path / "backup").exists()


def test_an_unreadable_run_json_is_refused(tmp_path, unet):
    (tmp_path / "run.json").write_text("{broken")
    with pytest.raises(RunFolderConflict, match="not a readable run record"):
        with claim_run_folder(tmp_path, unet):
            pass


def test_a_second_live_run_is_refused_and_a_killed_one_does_not_block(tmp_path, unet):
    holder = _start_holder(tmp_path, unet)
    try:
        with pytest.raises(RunFolderBusy) as info:
            with claim_run_folder(tmp_path, unet):
                pass
        message = str(info.value)
        assert isinstance(info.value, ValueError) and "\n" not in message
        assert f"pid {holder.pid} on host {socket.gethostname()}, since " in message
        assert str(tmp_path) in message
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert rf.read_lock_holder(tmp_path)["pid"] == holder.pid  # the stale record stays...
    with claim_run_folder(tmp_path, unet) as folder:  # ...but only a live lock counts
        assert folder.resumed and rf.read_lock_holder(tmp_path)["pid"] == os.getpid()


def test_the_same_process_cannot_claim_twice(tmp_path, unet):
    with claim_run_folder(tmp_path, unet):
        with pytest.raises(RunFolderBusy, match=r"\(this process\)"):
            with claim_run_folder(tmp_path, unet):
                pass
    with claim_run_folder(tmp_path, unet):  # released on exit
        pass


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_clean_stale_temporaries_removes_only_dead_writers_files(tmp_path):
    dead = _dead_pid()
    stale = [tmp_path / f".model.tmp{dead}.keras", tmp_path / f".metrics.json.tmp{dead}",
             tmp_path / f".history.csv.tmp{dead}", tmp_path / "samples" / f".grid.tmp{dead}.png"]
    live = [tmp_path / f".run.json.tmp{os.getpid()}", tmp_path / "model.keras",
            tmp_path / "tmp123.keras", tmp_path / "backup" / "latest.weights.h5.bkp"]
    for path in stale + live:
        path.parent.mkdir(exist_ok=True)
        path.write_text("x")
    assert rf.temporary_writer_pid(f".model.tmp{dead}.keras") == dead
    assert rf.temporary_writer_pid("model.keras") is None
    assert sorted(clean_stale_temporaries(tmp_path)) == sorted(stale)
    assert all(p.exists() for p in live) and not any(p.exists() for p in stale)


def test_claim_cleans_stale_temporaries(tmp_path, unet):
    with claim_run_folder(tmp_path, unet):
        pass
    stale = tmp_path / f".model.tmp{_dead_pid()}.keras"
    stale.write_bytes(b"half")
    with claim_run_folder(tmp_path, unet) as folder:
        assert folder.removed == [stale] and not stale.exists() and folder.resumed


def test_zombie_counts_as_dead():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 30
    while time.time() < deadline:  # exited but not reaped: a zombie
        stat = pathlib.Path(f"/proc/{process.pid}/stat")
        if not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            break
        time.sleep(0.05)
    try:
        assert not rf.pid_alive(process.pid)
    finally:
        process.wait()
    assert rf.pid_alive(os.getpid())
