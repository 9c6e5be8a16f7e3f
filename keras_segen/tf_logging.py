"""TensorFlow's start-up noise, hidden on the command line unless ``--verbose``.

TensorFlow 2.21 writes two kinds of lines to stderr. Its shared libraries' static
initializers log through absl before anything can configure it ("All log messages
before absl::InitializeLog() ...", oneDNN, "Could not find cuda drivers"): no variable
turns those off, so the import runs with stderr (file descriptor 2) sent to a temporary
file, replayed if the import fails. Later C++ lines ("failed call to cuInit" on a
machine without a GPU, ...) obey ``TF_CPP_MIN_LOG_LEVEL``, which TensorFlow reads once,
at import. Both must therefore be set up before TensorFlow is first imported, which the
package does first thing (``keras_segen/__init__.py`` calls ``before_tensorflow``): for
``keras-segen`` / ``python -m keras_segen`` without ``--verbose`` it hides them; a
``TF_CPP_MIN_LOG_LEVEL`` of the user's own is kept. Python code importing keras_segen
keeps TensorFlow's usual output (warnings hidden, errors shown).
"""
import contextlib
import os
import pathlib
import sys
import tempfile

VERBOSE_FLAG = "--verbose"
LIBRARY_LEVEL = "2"  # Python users: TF's C++ errors still show
QUIET_LEVEL = "3"  # the command line: none


def command_line_invocation(argv=None, orig_argv=None):
    """``(is the keras-segen command, --verbose given)`` for this process's arguments
    (``sys.argv`` / ``sys.orig_argv``: while ``python -m keras_segen`` imports the
    package, ``sys.argv[0]`` is still ``-m``)."""
    argv = list(sys.argv if argv is None else argv)
    orig = list(getattr(sys, "orig_argv", argv) if orig_argv is None else orig_argv)
    script = pathlib.Path(argv[0]).name if argv else ""
    module = any(a == "-m" and b in ("keras_segen", "keras_segen.cli")
                 for a, b in zip(orig, orig[1:]))
    is_cli = script in ("keras-segen", "keras_segen") or module
    return is_cli, is_cli and VERBOSE_FLAG in argv[1:]


@contextlib.contextmanager
def stderr_captured():
    """Send file descriptor 2 to a temporary file inside the block (C++ writes too);
    yields a function returning what was captured so far."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)

        def captured() -> str:
            capture.flush()
            capture.seek(0)
            return capture.read().decode(errors="replace")

        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def quiet_tensorflow_import():
    """Import TensorFlow with its start-up lines hidden and C++ logging off (unless the
    user set ``TF_CPP_MIN_LOG_LEVEL``). A failing import shows what it wrote."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_LEVEL)
    if "tensorflow" in sys.modules:
        return
    failure, text = None, ""
    with stderr_captured() as captured:
        try:
            import tensorflow  # noqa: F401
        except BaseException as err:  # shown with what TensorFlow wrote before it
            failure, text = err, captured()
    if failure is not None:
        sys.stderr.write(text)
        raise failure


def before_tensorflow():
    """Called by the package before it imports TensorFlow (see the module docstring)."""
    is_cli, verbose = command_line_invocation()
    if is_cli and not verbose:
        quiet_tensorflow_import()
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", LIBRARY_LEVEL)


def quiet_python_logs(verbose: bool):
    """The command line's Python-side loggers: absl and TensorFlow's at ERROR unless
    ``verbose``."""
    if verbose:
        return
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging
    except ImportError:  # absl comes with TensorFlow; nothing to quiet without it
        return
    absl_logging.set_verbosity(absl_logging.ERROR)
