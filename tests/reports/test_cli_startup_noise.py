"""TensorFlow's start-up lines (absl, oneDNN, cuInit...) are hidden on the command line
unless --verbose (keras_segen.tf_logging)."""
import os
import pathlib
import subprocess
import sys

import pytest

from keras_segen.tf_logging import command_line_invocation

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOISE = ("absl::InitializeLog", "I0000", "E0000", "W0000", "cuInit", "oneDNN", "cuda drivers")


def _environment():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.mark.slow  # a fresh process imports TensorFlow: ~6-12 s
def test_list_prints_no_tensorflow_start_up_lines():
    done = subprocess.run([sys.executable, "-m", "keras_segen", "list"], cwd=ROOT,
                          env=_environment(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "architectures (keras_segen.build)" in done.stdout
    noisy = [line for line in done.stderr.splitlines() if any(n in line for n in NOISE)]
    assert not noisy, noisy


@pytest.mark.slow  # two fresh processes import TensorFlow
def test_verbose_keeps_tensorflow_logging_level():
    # The package decides before TensorFlow loads; argv says what the command line got.
    script = ("import os, sys; sys.argv = ['keras-segen'] + sys.argv[1:]; import keras_segen; "
              "print(os.environ['TF_CPP_MIN_LOG_LEVEL'])")
    levels = [subprocess.run([sys.executable, "-c", script, *flags, "list"], cwd=ROOT,
                             env=_environment(), capture_output=True, text=True,
                             timeout=300).stdout.split()[-1]
              for flags in ([], ["--verbose"])]
    assert levels == ["3", "2"]  # quiet; --verbose: TensorFlow's usual level


def test_command_line_invocation():
    assert command_line_invocation(["/usr/bin/keras-segen", "list"], []) == (True, False)
    assert command_line_invocation(["-m", "--verbose", "list"],
                                   ["python", "-m", "keras_segen", "--verbose"]) == (True, True)
    assert command_line_invocation(["train.py", "--verbose"], ["python", "train.py"]) == \
        (False, False)  # a user's script keeps TensorFlow's output
