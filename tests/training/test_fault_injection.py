"""SIGKILL a training run at random moments, re-run it, and check that nothing is lost.

A server process (``kill_target.py serve``) imports TensorFlow once and forks one child
per run; each child claims the run folder, recovers it and trains a small Keras model
with the trainer's state callbacks (AtomicCheckpoint, SafeBackupAndRestore,
ResumableCSVLogger). The test kills children at random moments (uniform over the
expected rest of the run, sometimes in the start-up), and after each kill checks:

* ``model.keras`` is absent or a complete, readable file, never a half one;
* ``history.csv`` holds epochs 0..k-1, each once, no gap, and k covers every epoch the
  backup says is done (no row can be lost on resume);
and after the last, uncut run: epochs 0..N-1 exactly, ``model.keras`` loads, no
temporary file is left, the backup is gone, and the folder's lock is free (a killed
holder never blocks).

A kill counts as "in a write" when it left a temporary file of an atomic writer or a
damaged backup file (Keras writes those in place) behind.
"""
import json
import os
import pathlib
import selectors
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_segen.callbacks import checkpoint as ck
from keras_segen.training.run_folder import claim_run_folder, temporary_writer_pid

TARGET = pathlib.Path(__file__).with_name("kill_target.py")


class Server:
    """The ``kill_target.py serve`` process and its line protocol."""

    def __init__(self, log_path):
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, str(TARGET), "serve"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log, bufsize=0)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        self.buffer = b""

    def line(self, timeout):
        """The next stdout line, or None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not self.selector.select(left):
                return None
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"kill_target server died (log: {self.log.name})")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def expect(self, prefix, timeout):
        line = self.line(timeout)
        if line is None or not line.startswith(prefix):
            raise AssertionError(f"expected {prefix} from kill_target, got {line!r} "
                                 f"(log: {self.log.name})")
        return line

    def start(self, out, epochs, mode):
        self.process.stdin.write((json.dumps({"out": str(out), "epochs": epochs,
                                              "mode": mode}) + "\n").encode())
        return int(self.expect("PID", 120).split()[1])

    def close(self):
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("kill_target") / "server.log")
    yield running
    running.close()


def _rows(out):
    rows, _ = ck._read_history(out / "history.csv")
    return [int(row["epoch"]) for row in rows]


def _backup_epoch(backup):
    """The epoch SafeBackupAndRestore resumes at from ``backup`` (0: none usable)."""
    latest, meta = backup / "latest.weights.h5", backup / "training_metadata.json"
    if ck._h5_readable(latest) and ck._metadata_epoch(meta) is not None:
        return ck._metadata_epoch(meta), False
    previous = backup / "latest.weights.h5.bkp"
    previous_meta = backup / "training_metadata.json.bkp"
    damaged = backup.is_dir() and any(backup.iterdir())
    if ck._h5_readable(previous) and ck._metadata_epoch(previous_meta) is not None:
        return ck._metadata_epoch(previous_meta), damaged
    return 0, damaged


def _temporaries(out):
    return sorted(str(path.relative_to(out)) for path in out.rglob("*")
                  if temporary_writer_pid(path.name) is not None)


def _check_after_kill(out, stats):
    temporaries = _temporaries(out)
    backup_epoch, backup_damaged = _backup_epoch(out / "backup")
    if temporaries or backup_damaged:
        stats["in_write"] += 1
        stats["in_write_files"] += temporaries + (["backup (damaged)"] if backup_damaged else [])
    model = out / "model.keras"
    assert not model.exists() or ck.is_readable_model(model), "a half-written model.keras"
    rows = _rows(out)
    assert rows == list(range(len(rows))), f"history has a gap or a repeat: {rows}"
    assert len(rows) >= backup_epoch, (
        f"the backup resumes at epoch {backup_epoch} but the history holds {rows}: a row "
        f"would be lost")
    if (out / "backup").is_dir() and len(rows) > backup_epoch:
        # killed after an epoch's row (and checkpoint) but before its backup: Keras'
        # CSVLogger(append=True) would write that epoch's row twice
        stats["row_ahead_of_backup"] += 1
    return len(rows)


class Pace:
    """How long this machine takes for the first epoch (tracing) and for each later
    one, learnt from the EPOCH lines of earlier runs (load on a shared machine varies)."""

    def __init__(self):
        self.first, self.later = 1.5, 0.45

    def learn(self, lines):
        times = [float(line.split()[3]) for line in lines if line.startswith("EPOCH")]
        if times:
            self.first = 0.5 * self.first + 0.5 * times[0]
        if len(times) > 1:
            step = float(np.median(np.diff(times)))
            self.later = 0.5 * self.later + 0.5 * step

    def horizon(self, epochs_left):
        return self.first + self.later * max(1, epochs_left)


def _run_to_exit(server, pid, pace):
    lines = []
    while not (lines and lines[-1].startswith(f"EXIT {pid}")):
        line = server.expect("", 300)
        if line.startswith("ERROR"):
            raise AssertionError(f"a run failed: {line}")
        lines.append(line)
    pace.learn(lines)
    done = [line for line in lines if line.startswith(f"DONE {pid}")]
    return int(done[0].split()[2]) if done else None


def _torture(server, out, *, seed, kills, epochs, stats, pace):
    """``kills`` killed runs into ``out`` (a run that ends before its kill counts
    apart; the next one starts a finished folder over), then one uncut run."""
    rng = np.random.default_rng(seed)
    mode = ("every", "best")[seed % 2]
    finished = False
    for _ in range(kills):
        resume = _backup_epoch(out / "backup")[0]
        pid = server.start(out, epochs, mode)
        if rng.random() < 0.15:  # now and then in the start-up: claim, recover, build
            time.sleep(rng.uniform(0.0, 0.5))
        else:  # uniform over the rest of the run (its writes take most of an epoch)
            server.expect(f"TRAINING {pid}", 120)
            time.sleep(rng.uniform(0.0, 0.85 * pace.horizon(epochs - resume)))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        finished = _run_to_exit(server, pid, pace) is not None
        stats["finished_before_kill" if finished else "kills"] += 1
        _check_after_kill(out, stats)
    if not finished:
        resume = _backup_epoch(out / "backup")[0]
        pid = server.start(out, epochs, mode)
        ran = _run_to_exit(server, pid, pace)
        assert ran == epochs - resume, (ran, epochs, resume)
    assert _rows(out) == list(range(epochs))
    assert _temporaries(out) == [], "temporary files were left behind"
    assert not (out / "backup").exists(), "the backup of a finished run was kept"
    keras.saving.load_model(out / "model.keras")
    with claim_run_folder(out, json.loads((out / "run.json").read_text())["recipe"]):
        pass  # the lock is free
    stats["seeds"] += 1


def _new_stats():
    return {"seeds": 0, "kills": 0, "in_write": 0, "finished_before_kill": 0,
            "row_ahead_of_backup": 0, "in_write_files": []}


def _report(stats, started):
    files = sorted(set(name.split(".tmp")[0] if ".tmp" in name else name
                       for name in stats["in_write_files"]))
    print(f"\nfault injection: {stats['kills']} kills over {stats['seeds']} seed(s), "
          f"{stats['in_write']} landed in a write ({', '.join(files) or '-'}), "
          f"{stats['row_ahead_of_backup']} between an epoch's row and its backup, "
          f"{stats['finished_before_kill']} run(s) ended before their kill; "
          f"{time.monotonic() - started:.0f} s")


def test_random_kills_never_lose_the_run(server, tmp_path):
    started = time.monotonic()
    stats = _new_stats()
    _torture(server, tmp_path / "run", seed=0, kills=3, epochs=6, stats=stats, pace=Pace())
    _report(stats, started)
    assert stats["kills"] >= 1


@pytest.mark.slow
def test_random_kills_never_lose_the_run_many_seeds(server, tmp_path):
    started = time.monotonic()
    stats = _new_stats()
    pace = Pace()
    for seed in range(1, 6):
        _torture(server, tmp_path / f"run{seed}", seed=seed, kills=6, epochs=10, stats=stats,
                 pace=pace)
    _report(stats, started)
    assert stats["kills"] >= 15 and stats["in_write"] >= 1
