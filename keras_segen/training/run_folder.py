"""An output folder belongs to one run: one recipe, one training process at a time.

``with claim_run_folder(out, recipe) as folder:`` (the chief only, under a multi-worker
strategy: the other workers write into temporary folders)

1. creates ``out``;
2. takes an exclusive, non-blocking ``flock`` on ``out/.lock`` and writes the holder
   (pid, host, start time, command) into it. A second run into the same folder gets
   :class:`RunFolderBusy` naming the holder. The kernel drops the lock when its process
   dies, so a lock file left by a killed run never blocks: only a live lock counts;
3. removes temporary files of killed writers (:func:`clean_stale_temporaries`);
4. checks that the folder is this recipe's: ``out/run.json`` records the recipe of the
   folder's run (written atomically on first use). Another recipe is refused with
   :class:`RunFolderConflict` naming the folder, the old recipe and the first field that
   differs, unless ``overwrite=True``, which removes the old run's files (all but the
   lock) first. A run may change :data:`RESUMABLE_TRAIN_KEYS` and still resume.
   A non-empty folder without ``run.json`` is refused too, except an older keras_segen
   run folder: its ``metrics.json`` recipe is compared (and ``overwrite`` may replace
   it). Folders holding anything else (a user's data) are never emptied, not even with
   ``overwrite``.

The errors are ``ValueError``s (the CLI prints them as one line and exits 2).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import json
import os
import pathlib
import re
import shutil
import socket
import sys

from keras_segen.training.io import write_text_atomic

LOCK_NAME = ".lock"
RUN_JSON = "run.json"
# ``train`` keys a resumed run may change: the wall-clock budget of this session, the
# number of epochs (so that "train 5 more epochs" resumes the same run), and how many
# images the end-of-run evaluation uses (it changes no weights).
RESUMABLE_TRAIN_KEYS = ("epochs", "time_budget_s", "eval_samples")
# What a keras_segen trainer (this one or an older one) writes into its folder; a folder
# holding only these is a run folder even without run.json.
RUN_ENTRIES = frozenset({
    RUN_JSON, "model.keras", "model.keras.damaged", "history.csv", "metrics.json",
    "backup", "logs", "overlays", "samples", "reconstructions", "triplets",
    "predictions", "serving",
})
# Temporary files of the atomic writers (training/io.py, callbacks/model_file.py):
# ".model.tmp<pid>.keras", ".metrics.json.tmp<pid>", ".history.csv.tmp<pid>".
_TEMPORARY = re.compile(r"^\..+\.tmp(?P<pid>\d+)(\.[A-Za-z0-9]+)?$")


class RunFolderError(ValueError):
    """The output folder can't be used for this run (the message says why)."""


class RunFolderBusy(RunFolderError):
    """Another live process holds the folder's lock."""


class RunFolderConflict(RunFolderError):
    """The folder holds another recipe's run, or files that are not a run."""


@dataclasses.dataclass
class RunFolder:
    """What :func:`claim_run_folder` found and did."""

    path: pathlib.Path
    recipe: dict
    resumed: bool = False  # the folder already held this recipe's run
    removed: list = dataclasses.field(default_factory=list)  # paths deleted
    notes: list = dataclasses.field(default_factory=list)  # one line each, for the log


@contextlib.contextmanager
def claim_run_folder(out, recipe: dict, *, overwrite: bool = False):
    """Hold ``out`` for one run of ``recipe`` (a recipe dict) inside the block; yields a
    :class:`RunFolder`. See the module docstring."""
    out = pathlib.Path(out)
    if out.exists() and not out.is_dir():
        raise RunFolderConflict(f"output folder {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    fd = _lock(out)
    try:
        folder = RunFolder(path=out, recipe=_plain(recipe))
        folder.removed += clean_stale_temporaries(out)
        if folder.removed:
            folder.notes.append(f"removed {len(folder.removed)} temporary file(s) left by a "
                                f"killed run in {out}")
        _check_recipe(folder, overwrite)
        _write_run_json(out, folder.recipe)
        yield folder
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # while still holding it: the next holder writes its own
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_lock_holder(out) -> dict | None:
    """The holder recorded in ``out/.lock`` (``pid``, ``host``, ``since``, ``command``),
    or None. Only meaningful while the lock is held: a dead holder's text may remain."""
    try:
        text = (pathlib.Path(out) / LOCK_NAME).read_text()
        return json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None


def _lock(out: pathlib.Path) -> int:
    path = out / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunFolderBusy(f"output folder {out} is in use by another training run "
                            f"({_describe_holder(read_lock_holder(out))}); wait for it to "
                            f"finish, or train into another folder") from None
    except BaseException:
        os.close(fd)
        raise
    holder = {"pid": os.getpid(), "host": socket.gethostname(),
              "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "command": " ".join(sys.argv)[:300]}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
    return fd


def _describe_holder(holder) -> str:
    if not holder:
        return "holder not recorded yet: it is just starting"
    mine = holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname()
    return (f"pid {holder.get('pid')} on host {holder.get('host')}, since "
            f"{holder.get('since')}{' (this process)' if mine else ''}")


# --------------------------------------------------------------------------- recipe
def _check_recipe(folder: RunFolder, overwrite: bool) -> None:
    out = folder.path
    old, origin = _recorded_recipe(out)
    entries = _entries(out)
    if not entries:
        return
    if origin is None:  # not empty, no recipe recorded
        foreign = sorted(name for name in entries
                         if name not in RUN_ENTRIES and temporary_writer_pid(name) is None)
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise RunFolderConflict(
                f"output folder {out} is not empty and is not a keras_segen run folder "
                f"(it holds {shown}); train into a new or empty folder")
        if not overwrite:
            raise RunFolderConflict(
                f"output folder {out} holds an older run whose recipe is not recorded "
                f"(no {RUN_JSON}, no metrics.json); train into another folder, or "
                f"overwrite the old run (--overwrite)")
    elif old is None:  # a run.json that can't be read
        if not overwrite:
            raise RunFolderConflict(f"{out / RUN_JSON} is not a readable run record; train "
                                    f"into another folder, or overwrite the old run "
                                    f"(--overwrite)")
    elif not overwrite:
        difference = first_difference(_comparable(old), _comparable(folder.recipe))
        if difference:
            field, before, now = difference
            raise RunFolderConflict(
                f"output folder {out} belongs to a run of recipe {old.get('name')!r} "
                f"({origin}); this run's recipe {folder.recipe.get('name')!r} differs at "
                f"{field}: {before} there, {now} here; train into another folder, or "
                f"overwrite the old run (--overwrite)")
        folder.resumed = True
        return
    folder.removed += _remove_entries(out, entries)
    folder.notes.append(f"removed the old run in {out} ({len(entries)} entries): overwrite")


def _recorded_recipe(out: pathlib.Path):
    """``(recipe or None, where it was found or None)``."""
    run_json = out / RUN_JSON
    if run_json.exists():
        try:
            recipe = json.loads(run_json.read_text())["recipe"]
            return (recipe, RUN_JSON) if isinstance(recipe, dict) else (None, RUN_JSON)
        except (OSError, ValueError, KeyError, TypeError):
            return None, RUN_JSON
    try:  # an older keras_segen run: metrics.json carries the recipe
        recipe = json.loads((out / "metrics.json").read_text()).get("recipe")
        if isinstance(recipe, dict):
            return recipe, "metrics.json"
    except (OSError, ValueError, AttributeError):
        pass
    return None, None


def _comparable(recipe: dict) -> dict:
    recipe = json.loads(json.dumps(recipe))
    train = recipe.get("train")
    if isinstance(train, dict):
        for key in RESUMABLE_TRAIN_KEYS:
            train.pop(key, None)
    if "name" in recipe:  # compared last: the first *other* difference says more
        recipe["name"] = recipe.pop("name")
    return recipe


def first_difference(old, new, path: str = ""):
    """``(field path, old value, new value)`` of the first difference between two JSON
    values (values shown as JSON, ``absent`` for a missing key), or None."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            where = f"{path}.{key}" if path else str(key)
            if key not in new or key not in old:
                return (where, _json(old[key]) if key in old else "absent",
                        _json(new[key]) if key in new else "absent")
            found = first_difference(old[key], new[key], where)
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new)):
            found = first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        return None
    # true == 1 in Python, but not in a recipe
    if old != new or isinstance(old, bool) != isinstance(new, bool):
        return path or "the recipe", _json(old), _json(new)
    return None


def _json(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _plain(recipe: dict) -> dict:
    """The recipe as JSON stores it (tuples become lists)."""
    if not isinstance(recipe, dict):
        raise TypeError(f"claim_run_folder takes a recipe dict, got {type(recipe).__name__}")
    return json.loads(json.dumps(recipe, default=_default))


def _default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _entries(out: pathlib.Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name != LOCK_NAME)


def _remove_entries(out: pathlib.Path, names) -> list:
    removed = []
    for name in names:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _write_run_json(out: pathlib.Path, recipe: dict) -> None:
    path = out / RUN_JSON
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    created = now
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        created = json.loads(path.read_text())["created"]
    record = {"recipe": recipe, "created": created, "last_claimed": now}
    write_text_atomic(path, json.dumps(record, indent=2) + "\n")


# --------------------------------------------------------------------------- temporaries
def temporary_writer_pid(name: str) -> int | None:
    """The writer's pid encoded in a temporary file name of the atomic writers, else
    None (``.model.tmp123.keras`` -> 123)."""
    match = _TEMPORARY.match(name)
    return int(match.group("pid")) if match else None


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (a zombie counts as dead)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    try:  # Linux: a killed child not yet reaped is a zombie
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def clean_stale_temporaries(folder) -> list:
    """Remove the temporary files (anywhere under ``folder``) whose writer is no longer
    alive; returns their paths. Temporaries of live writers (e.g. ``keras-segen
    evaluate --json`` writing beside a run) are left alone."""
    removed = []
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        return removed
    for root, dirs, files in os.walk(folder):
        for name in list(files) + list(dirs):
            pid = temporary_writer_pid(name)
            if pid is None or pid_alive(pid):
                continue
            path = pathlib.Path(root) / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                dirs.remove(name)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


__all__ = [
    "RESUMABLE_TRAIN_KEYS",
    "RunFolder",
    "RunFolderBusy",
    "RunFolderConflict",
    "RunFolderError",
    "claim_run_folder",
    "clean_stale_temporaries",
    "first_difference",
    "pid_alive",
    "read_lock_holder",
    "temporary_writer_pid",
]
