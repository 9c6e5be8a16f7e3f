"""Writing files so that an interrupted run never leaves a half-written one behind.

Every writer here goes through :func:`replacing`: the new content is written to a
temporary file beside the target (``.<name>.tmp<pid>``, the names that
``run_folder.clean_stale_temporaries`` recognises), fsynced, renamed over the target, and
the folder fsynced, so a kill at any moment leaves the old file or the new one.
"""
import contextlib
import errno
import json
import os
import pathlib
import shutil


@contextlib.contextmanager
def replacing(path, temporary=None):
    """Yield a temporary path to write; on a clean exit it replaces ``path`` atomically,
    on an error it is removed. ``temporary``: its name, when the writer needs a
    particular suffix (``model.save`` wants ``.keras``)."""
    path = pathlib.Path(path)
    if path.is_dir():  # os.replace would fail only after the whole write
        raise IsADirectoryError(errno.EISDIR, "Is a directory, not a file to write",
                                str(path))
    tmp = path.with_name(temporary or f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(path.parent)


def _remove(tmp) -> None:
    # Whatever the writer left (a file, or a folder some writers make); a failure here
    # must not hide the error that got us here.
    try:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
    except OSError:
        pass


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` (exactly, no newline translation) to ``path`` atomically."""
    with replacing(path) as tmp, open(tmp, "w", newline="") as handle:
        handle.write(text)


def copy_atomic(source, target) -> None:
    """Copy ``source`` over ``target`` atomically."""
    with replacing(target) as tmp:
        shutil.copyfile(source, tmp)


def write_json_atomic(path, data) -> None:
    """``data`` as indented JSON (numpy values as lists/numbers), atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=_plain) + "\n")


def _fsync_file(path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path) -> None:
    # Makes the rename durable; best effort: some filesystems can't fsync a folder, and
    # the rename has happened either way.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _plain(value):
    # numpy scalars and arrays in metric dicts
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


__all__ = ["copy_atomic", "replacing", "write_json_atomic", "write_text_atomic"]
