"""Fault injection for the SIGKILL tests: run a command and kill it part-way."""
import signal
import subprocess
import time


def timed_run(command) -> float:
    """Run ``command`` to the end (it must succeed); returns its wall seconds."""
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    return time.monotonic() - started


def kill_after(command, seconds) -> None:
    """Start ``command``, SIGKILL it after ``seconds`` (no cleanup can run), reap it."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    process.send_signal(signal.SIGKILL)
    process.wait()
