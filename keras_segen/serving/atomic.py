"""Publish a version folder all at once, the way TF Serving expects to find it.

Everything is written into ``<model_dir>/.tmp-<version>-<pid>-<random>/`` and renamed
to ``<model_dir>/<version>`` at the end (a rename within one folder is atomic). TF
Serving only loads children whose names parse as integers, so the temporary folder is
never seen as a version, even one left behind by a killed process. Replacing a version
moves the old one to ``.old-<version>-<pid>-<random>`` for the instant of the swap.

A kill at any moment therefore leaves the old version or the new one (or, inside the
swap, the old one under its ``.old-`` name); the next export into the same model folder
first puts such an old version back and removes every folder a dead exporter left.

A published version is world-readable whatever the umask (folders 0755, files 0644), and
so are the model and base folders the export creates: TF Serving often runs as another
user (the container's root, a service account). ``mkdtemp`` makes 0700 folders, and a
restrictive umask (0077) would make 0600 files.
"""
import contextlib
import os
import pathlib
import re
import shutil
import tempfile

_LEFTOVER = re.compile(r"^\.(tmp|old)-(\d+)-(\d+)-")


def recover_model_dir(model_dir) -> list:
    """Undo what killed exporters left in ``model_dir``: an ``.old-V-PID-*`` version whose
    swap was cut goes back to ``V`` (when ``V`` is missing), and the other leftovers of
    dead processes are removed. Returns the names handled."""
    from keras_segen.training.run_folder import pid_alive

    model_dir = pathlib.Path(model_dir)
    if not model_dir.is_dir():
        return []
    handled = []
    for child in sorted(model_dir.iterdir()):
        match = _LEFTOVER.match(child.name)
        if not match or pid_alive(int(match.group(3))):
            continue
        kind, version = match.group(1), match.group(2)
        if kind == "old" and not (model_dir / version).exists():
            os.rename(child, model_dir / version)  # the cut swap's old version comes back
        else:
            shutil.rmtree(child, ignore_errors=True)
        handled.append(child.name)
    return handled


@contextlib.contextmanager
def version_folder(model_dir, version, *, overwrite=False):
    """Yield an empty temporary folder; publish it as ``model_dir/version`` on success.

    On any exception the temporary folder is removed and nothing is published. An
    existing version raises FileExistsError unless ``overwrite``; then the old version
    is swapped out only once the new one is complete.
    """
    model_dir = pathlib.Path(model_dir)
    final = model_dir / str(version)
    recover_model_dir(model_dir)
    if final.exists() and not overwrite:
        raise FileExistsError(
            f"{final} already exists; choose another version or pass overwrite=True "
            "(keras-segen export --overwrite) to replace it"
        )
    _make_dirs_readable(model_dir)
    tmp = pathlib.Path(
        tempfile.mkdtemp(prefix=f".tmp-{version}-{os.getpid()}-", dir=model_dir)
    )
    try:
        yield tmp
        make_readable(tmp)  # before the rename: a version is never seen unreadable
        _publish(tmp, final, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


DIR_MODE = 0o755
FILE_MODE = 0o644


def make_readable(folder):
    """chmod ``folder`` and everything in it: folders 0755, files 0644 (links untouched)."""
    folder = pathlib.Path(folder)
    os.chmod(folder, DIR_MODE)
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, DIR_MODE if name in dirs else FILE_MODE)


def _make_dirs_readable(model_dir):
    """Create ``model_dir`` (and missing parents), each new folder 0755; folders that
    already exist keep their mode (they are the user's)."""
    missing = []
    for folder in (model_dir, *model_dir.parents):
        if folder.exists():
            break
        missing.append(folder)
    model_dir.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        os.chmod(folder, DIR_MODE)


def _publish(tmp, final, overwrite):
    if not final.exists():
        try:
            os.rename(tmp, final)
        except OSError as err:  # another writer published it meanwhile
            raise FileExistsError(f"{final} appeared while exporting: {err}") from err
        return
    if not overwrite:
        raise FileExistsError(f"{final} appeared while exporting; nothing was replaced")
    old = pathlib.Path(
        tempfile.mkdtemp(prefix=f".old-{final.name}-{os.getpid()}-", dir=final.parent)
    )
    old.rmdir()  # only the unique name is needed: rename needs a free target
    os.rename(final, old)
    try:
        os.rename(tmp, final)
    except BaseException:
        os.rename(old, final)  # put the old version back
        raise
    shutil.rmtree(old, ignore_errors=True)
