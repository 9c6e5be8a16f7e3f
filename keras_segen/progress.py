"""Progress bars for long loops (evaluation, zoo build), shown only on a terminal: in a
log file a bar's carriage returns are noise, so there it stays quiet."""
import sys

import keras


class _Quiet:
    def add(self, steps=1, values=None):
        pass

    def update(self, current, values=None, finalize=None):
        pass


def progress_bar(total=None, unit="step", *, stream=None):
    """A ``keras.utils.Progbar`` of ``total`` steps (None: unknown) when ``stream``
    (default stdout, where Keras writes bars) is a terminal; else one that prints
    nothing. Call ``.add(n)`` after each n steps."""
    stream = sys.stdout if stream is None else stream
    if not getattr(stream, "isatty", lambda: False)():
        return _Quiet()
    return keras.utils.Progbar(total, unit_name=unit)
