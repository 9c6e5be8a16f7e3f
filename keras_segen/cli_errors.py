"""The CLI's error boundary: which errors are the user's (one line, exit 2) and the one
line that says what went wrong. A bug (any other error) keeps its traceback."""
import re
import sys

# Errors a user causes and can fix (a path, a value, a name, the environment); their
# messages are written for the user. TypeError and AttributeError are not here: they are
# bugs (our own checks of users' input raise ValueError). PIL's DecompressionBombError and
# TensorFlow's InvalidArgumentError are added by ``user_error_types`` when those libraries
# are loaded (importing TensorFlow only to name its error would slow every command).


class MissingExtraError(ImportError):
    """An optional dependency (a ``pip install keras_segen[extra]``) is not installed:
    the user's environment to fix, so the message says which extra installs it."""


USER_ERRORS = (MissingExtraError, FileNotFoundError, FileExistsError, IsADirectoryError,
               NotADirectoryError, PermissionError, ValueError, KeyError, RuntimeError)


def user_error_types() -> tuple:
    types = list(USER_ERRORS)
    if "PIL.Image" in sys.modules:
        types.append(sys.modules["PIL.Image"].DecompressionBombError)
    if "tensorflow" in sys.modules:
        types.append(sys.modules["tensorflow"].errors.InvalidArgumentError)
    return tuple(types)


def is_user_error(err: BaseException) -> bool:
    # Any other OSError that names a path (a full disk, a broken link) is about that path.
    return isinstance(err, user_error_types()) or (
        isinstance(err, OSError) and err.filename is not None)


def error_message(err: BaseException) -> str:
    """One line for the user: KeyError without its quotes, OSError with its path(s),
    TensorFlow's op error without the graph context."""
    if isinstance(err, KeyError) and err.args:
        text = str(err.args[0])
    elif isinstance(err, OSError) and err.filename is not None:
        # str() of an OS-raised error is "[Errno 21] Is a directory: 'x'"; ours carry a
        # message that may already name the path.
        paths = [str(p) for p in (err.filename, err.filename2) if p is not None]
        if err.strerror and err.errno is not None:
            text = f"{err.strerror}: {' -> '.join(paths)}"
        else:
            text = " ".join(str(a) for a in err.args) or type(err).__name__
        if not any(path in text for path in paths):
            text = f"{text}: {' -> '.join(paths)}"
    elif type(err).__module__.startswith("tensorflow"):
        text = str(getattr(err, "message", err)).strip()
        text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text.splitlines()[0] if text else "")
        text = re.sub(r"\s*name:\s*$", "", text)
    else:
        text = str(err)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines) or type(err).__name__


__all__ = ["MissingExtraError", "USER_ERRORS", "error_message", "is_user_error", "user_error_types"]
