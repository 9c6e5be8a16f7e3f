"""Import users' own modules so that their ``@keras_segen.register_architecture`` builders
(and any Keras-serializable layers) are registered before a command or a recipe needs them.

Used by the CLI's global ``--import MODULE`` and by a recipe's ``"imports": [...]`` key.
"""
import importlib
import os
import sys


def import_user_modules(names, where, *, search_paths=None) -> list:
    """Import each module of ``names`` (dotted names, in order); returns the modules.

    ``where`` says who asked for them (``"--import"``, a recipe file) and goes into every
    error. ``search_paths`` are put in front of ``sys.path`` first (default: the current
    working directory, as ``python -m`` does; a console script does not put it there).
    A module that cannot be found or whose own imports fail raises ``ValueError`` naming
    the module and ``where``; other errors raised by the module's code propagate as they
    are (they are bugs in that module, and their traceback is what its author needs).
    """
    if not isinstance(names, (list, tuple)) or not all(
            isinstance(n, str) and n.strip() for n in names):
        raise ValueError(f"{where}: imports must be a list of module names, got {names!r}")
    paths = [os.getcwd()] if search_paths is None else [os.fspath(p) for p in search_paths]
    for path in reversed(paths):
        if path not in sys.path:
            sys.path.insert(0, path)
    importlib.invalidate_caches()  # a module file written moments ago must be found
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name.strip()))
        except ImportError as err:
            raise ValueError(f"{where}: cannot import module {name!r}: {err}") from err
    return modules
