"""What TF Serving itself relies on: SignatureDefs, warmup records, stock ops, assets."""
import json
import os
import subprocess

import pytest

from serving_cases import CASES

from keras_segen.serving import read_warmup_requests, signature_names
from keras_segen.serving.endpoints import endpoints_for

EXPECTED_SIGNATURES = {
    "unet": {"serving_default": (["images"], ["masks", "probabilities"]),
             "predict_bytes": (["image_bytes"], ["masks", "probabilities"])},
    "dcgan": {"serving_default": (["z"], ["images"]),
              "sample": (["batch_size", "seed"], ["images"])},
    "cgan": {"serving_default": (["labels", "z"], ["images"]),
             "sample": (["batch_size", "seed"], ["images", "labels"])},
    "vae": {name: io for name, io in {
        "serving_default": (["images"], ["images"]), "reconstruct": (["images"], ["images"]),
        "encode": (["images"], ["log_var", "mean"]), "decode": (["z"], ["images"]),
        "sample": (["batch_size", "seed"], ["images"])}.items()},
    "cvae": {"serving_default": (["images", "labels"], ["images"]),
             "reconstruct": (["images", "labels"], ["images"]),
             "encode": (["images", "labels"], ["log_var", "mean"]),
             "decode": (["labels", "z"], ["images"]),
             "sample": (["batch_size", "seed"], ["images", "labels"])},
    "pix2pix": {"serving_default": (["masks"], ["images"]), "translate": (["masks"], ["images"])},
}
EXPECTED_SIGNATURES["wgan_gp"] = EXPECTED_SIGNATURES["dcgan"]
EXPECTED_SIGNATURES["stylegan"] = {
    "serving_default": (["truncation", "z"], ["images"]),
    "sample": (["batch_size", "seed", "truncation"], ["images"])}
EXPECTED_SIGNATURES["ddim"] = {
    "serving_default": (["steps", "z"], ["images"]),
    "sample": (["batch_size", "seed", "steps"], ["images"])}
EXPECTED_SIGNATURES["pixelcnn"] = {
    "serving_default": (["images"], ["bits_per_dim", "log_prob"]),
    "log_prob": (["images"], ["bits_per_dim", "log_prob"]),
    "sample": (["batch_size", "seed"], ["images"])}


@pytest.mark.parametrize("case", sorted(CASES))
def test_signature_defs_are_predict_signatures_with_stable_names(case, exported, served):
    report = served["report"]["exports"][str(exported[case].path)]
    signatures = {k: v for k, v in report["signatures"].items() if not k.startswith("__")}
    assert set(signatures) == set(EXPECTED_SIGNATURES[case])
    for name, (inputs, outputs) in EXPECTED_SIGNATURES[case].items():
        assert signatures[name]["method_name"] == "tensorflow/serving/predict"
        assert signatures[name]["inputs"] == inputs, name
        assert signatures[name]["outputs"] == outputs, name


@pytest.mark.parametrize("case", sorted(CASES))
def test_warmup_records_replay_through_every_signature(case, exported, served):
    report = served["report"]["exports"][str(exported[case].path)]
    replayed = [entry["signature"] for entry in report["warmup"]]
    assert sorted(replayed) == sorted(EXPECTED_SIGNATURES[case])  # one request each
    for entry in report["warmup"]:
        assert "error" not in entry, entry
        assert entry["model_name"] == case
        assert sorted(entry["outputs"]) == EXPECTED_SIGNATURES[case][entry["signature"]][1]


@pytest.mark.parametrize("case", sorted(CASES))
def test_graphs_use_only_stock_tensorflow_ops(case, exported, served):
    report = served["report"]["exports"][str(exported[case].path)]
    assert report["num_ops"] > 10
    assert report["non_stock_ops"] == []


def test_warmup_file_matches_the_endpoints(exported):
    item = exported["vae"]
    requests = read_warmup_requests(item.path / "assets.extra" / "tf_serving_warmup_requests")
    assert [r.model_spec.signature_name for r in requests] == signature_names(
        endpoints_for(item.model)
    )


def test_assets_hold_the_card_and_class_names(exported):
    unet = exported["unet"].path
    card = json.loads((unet / "assets" / "card.json").read_text())
    assert card["name"] == "unet"
    assert (unet / "assets" / "class_names.txt").read_text().split("\n") == [
        "ocean", "land", "lake", ""]
    assert not (exported["dcgan"].path / "assets" / "class_names.txt").exists()


def test_saved_model_cli_lists_the_signatures(exported):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    run = subprocess.run(["saved_model_cli", "show", "--all", "--dir", str(exported["cgan"].path)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    for signature in ("serving_default", "sample"):
        assert f"signature_def['{signature}']" in run.stdout
    assert "Method name is: tensorflow/serving/predict" in run.stdout
    for line in ("inputs['labels'] tensor_info:", "inputs['z'] tensor_info:",
                 "outputs['images'] tensor_info:", "dtype: DT_UINT8", "dtype: DT_INT64"):
        assert line in run.stdout, line
