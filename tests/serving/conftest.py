"""Export every tiny model once, and load them all once in a TensorFlow-only process."""
import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from serving_cases import CASES, requests_and_answers

CHECKER = pathlib.Path(__file__).with_name("served_check.py")


@dataclasses.dataclass
class Exported:
    model: object
    path: pathlib.Path
    cases: dict  # signature -> (inputs, expected outputs)


@pytest.fixture(scope="session")
def exported(architecture_exports):
    """``{case: Exported}`` for every case of serving_cases, under one TF Serving root
    (tests/conftest.py's session exports, shared with tests/test_architectures.py)."""
    result = {}
    for case in CASES:
        model, path = architecture_exports.get(case)
        result[case] = Exported(model, path, requests_and_answers(case, model))
    return result


@pytest.fixture(scope="session")
def served(exported, tmp_path_factory):
    """Run served_check.py once over every export; ``{"report": ..., "outputs": {case:
    {signature: {name: array}}}}``."""
    folder = tmp_path_factory.mktemp("served")
    job = {"exports": [], "result": str(folder / "result.json")}
    for case, item in exported.items():
        inputs = {
            f"{signature}/{name}": value
            for signature, (request, _) in item.cases.items()
            for name, value in request.items()
        }
        np.savez(folder / f"{case}_in.npz", **inputs)
        job["exports"].append({"path": str(item.path), "inputs": str(folder / f"{case}_in.npz"),
                               "outputs": str(folder / f"{case}_out.npz")})
    (folder / "job.json").write_text(json.dumps(job))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    run = subprocess.run([sys.executable, str(CHECKER), str(folder / "job.json")],
                         capture_output=True, text=True, env=env, timeout=900)
    if run.returncode != 0:
        raise AssertionError(f"served_check.py failed ({run.returncode}):\n{run.stderr[-4000:]}")
    outputs = {}
    for case in exported:
        arrays = np.load(folder / f"{case}_out.npz", allow_pickle=False)
        for key in arrays.files:
            signature, name = key.split("/", 1)
            outputs.setdefault(case, {}).setdefault(signature, {})[name] = arrays[key]
    return {"report": json.loads((folder / "result.json").read_text()), "outputs": outputs}
