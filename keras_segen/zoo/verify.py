"""``keras-segen zoo verify``: re-check shipped artifacts against their cards.

For each entry: every file's sha256 (``zoo.artifacts.verify_files``), a ``safe_mode``
load, and the card's metrics measured again with the same evaluation code
(``zoo.evaluation.evaluate_entry``). A measured value passes when

    |measured - card| <= max(absolute, relative * |card|)

with ``(absolute, relative)`` from ``TOLERANCES`` below. The evaluations are
deterministic (fixed splits; generation is seeded), so on the same software the
numbers repeat exactly; the tolerances absorb float reduction order on other CPUs or
thread counts. Counts (pixels, images) must match exactly; texts and the confusion
matrix (implied by the scores) are not compared.

``--cheap`` picks the entries whose evaluation took at most ``CHEAP_SECONDS`` when they
were built (``card["evaluation"]["seconds"]``), for CI.
"""
import pathlib
import time

import keras

from keras_segen.paths import zoo_dir
from keras_segen.zoo import loading
from keras_segen.zoo.artifacts import (
    ArtifactIntegrityError,
    WeightsNotAvailableError,
    cache_dir,
    path_in_artifact,
    repo_dir,
    resolve_artifact,
    sha256_file,
)
from keras_segen.zoo.evaluation import evaluate_entry
from keras_segen.zoo.schema import MODEL_FILE

CHEAP_SECONDS = 60.0
# metric -> (absolute, relative)
TOLERANCES = {
    "pixel_accuracy": (1e-4, 0.0),
    "mean_iou": (1e-4, 0.0),
    "mean_class_accuracy": (1e-4, 0.0),
    "mean_dice": (1e-4, 0.0),
    "per_class": (1e-3, 0.0),  # any per-class value: a rare class has few pixels
    "accuracy": (2e-4, 0.0),  # 2 of 10,000 test images
    "classifier_accuracy": (2e-3, 0.0),
    "fid": (1e-3, 0.02),
    "kid": (2e-4, 0.02),
    "kid_std": (2e-4, 0.05),
    "inception_score": (0.0, 0.02),
    "inception_score_std": (1e-3, 0.10),
    "psnr": (0.05, 0.0),  # dB
    "ssim": (1e-3, 0.0),
}
DEFAULT_TOLERANCE = (1e-4, 1e-3)
_PREFIXES = ("sample_", "fcn_", "real_")
_SKIPPED = {"confusion_matrix", "notes", "feature_model"}


def tolerance(metric: str) -> tuple:
    base = metric
    for prefix in _PREFIXES:
        if base.startswith(prefix):
            base = base[len(prefix):]
    if base.endswith("_real"):
        base = base[: -len("_real")]
    if "per_class" in base:
        return TOLERANCES["per_class"]
    return TOLERANCES.get(base, DEFAULT_TOLERANCE)


def compare_metrics(expected: dict, measured: dict, prefix="") -> list[dict]:
    """One row per compared number: ``{"metric", "card", "measured", "allowed", "ok"}``."""
    rows = []
    for key, value in expected.items():
        if key in _SKIPPED or isinstance(value, str):
            continue
        name = f"{prefix}{key}"
        got = measured.get(key) if isinstance(measured, dict) else None
        if isinstance(value, dict):
            if "per_class" in key:  # per-class values share one tolerance
                rows += [_row(f"{name}.{k}", v, (got or {}).get(k), TOLERANCES["per_class"])
                         for k, v in value.items()]
            else:
                rows += compare_metrics(value, got or {}, prefix=f"{name}.")
        elif isinstance(value, bool) or value is None or isinstance(value, list):
            rows.append({"metric": name, "card": value, "measured": got, "allowed": 0,
                         "ok": got == value})
        elif isinstance(value, int):
            rows.append({"metric": name, "card": value, "measured": got, "allowed": 0,
                         "ok": got == value})
        else:
            rows.append(_row(name, value, got, tolerance(key)))
    return rows


def _row(name, expected, got, tol):
    absolute, relative = tol
    if expected is None or got is None:
        return {"metric": name, "card": expected, "measured": got, "allowed": 0,
                "ok": expected == got}
    allowed = max(absolute, relative * abs(expected))
    return {"metric": name, "card": expected, "measured": got, "allowed": allowed,
            "ok": abs(float(got) - float(expected)) <= allowed + 1e-12}


def feature_model_notes(card) -> list[str]:
    """Feature models (FID/KID) whose file changed since the card was measured."""
    notes = []
    for name, record in card.get("evaluation", {}).get("feature_models", {}).items():
        path = pathlib.Path(record["path"])
        if not path.is_absolute():  # relative to the zoo folder
            path = zoo_dir() / path
        try:
            actual = sha256_file(path)
        except OSError:
            actual = "missing"
        if actual != record["sha256"]:
            notes.append(f"feature model {name} ({path}) is not the one this card was "
                         f"measured with (sha256 {actual}, card {record['sha256']}); "
                         "its FID/KID numbers change with it")
    return notes


def file_differences(folder, files, name) -> list[str]:
    """One line per file of ``files`` that ``folder`` (entry ``name``'s artifact) lacks or
    holds with another size or sha256; every file is checked, not just the first."""
    lines = []
    for record in files:
        path = pathlib.Path(folder) / path_in_artifact(record["path"], name)
        expected = f"the card says {record['sha256']} ({record['bytes']} bytes)"
        if not path.is_file():
            lines.append(f"{record['path']}: missing ({path}); {expected}")
            continue
        actual, size = sha256_file(path), path.stat().st_size
        if actual != record["sha256"] or size != record["bytes"]:
            lines.append(f"{record['path']}: sha256 {actual} ({size} bytes), {expected}")
    return lines


def _failed(name, started, notes, *, checked=0, differing=()):
    return {"name": name, "ok": False, "rows": [], "notes": list(notes),
            "files_checked": checked, "files_differing": list(differing),
            "seconds": round(time.time() - started, 1)}


def verify_entry(name, *, verbose=True) -> dict:
    """``{"name", "ok", "rows", "notes", "files_checked", "files_differing", "seconds"}``
    for one zoo entry."""
    started = time.time()
    try:
        card = loading.get_card(name)
    except ArtifactIntegrityError as err:  # the card is not the one the index records
        result = _failed(name, started, [str(err)])
        return _report(result, verbose)
    try:
        folder = resolve_artifact(card)
    except WeightsNotAvailableError as err:
        result = _failed(name, started, [str(err)])
    except ArtifactIntegrityError as err:
        checked = next((f for f in (repo_dir(card), cache_dir(card)) if f.is_dir()), None)
        differing = file_differences(checked, card["files"], name) if checked else []
        result = _failed(name, started, [] if differing else [str(err)],
                         checked=len(card["files"]) if checked else 0, differing=differing)
    else:
        model = keras.saving.load_model(folder / MODEL_FILE, safe_mode=True)
        recipe = card["recipe"]["config"]
        measured = evaluate_entry(model, recipe, loading.class_names(card))
        rows = []
        for key, expected in card["metrics"].items():
            rows += compare_metrics(expected, measured.get(key, {}), prefix=f"{key}:")
        result = {"name": name, "ok": all(row["ok"] for row in rows), "rows": rows,
                  "notes": feature_model_notes(card), "files_checked": len(card["files"]),
                  "files_differing": [], "seconds": round(time.time() - started, 1)}
    return _report(result, verbose)


def _report(result, verbose):
    if verbose:
        print(format_result(result))
    return result


def format_result(result) -> str:
    status = "OK" if result["ok"] else "FAILED"
    differing = result.get("files_differing", [])
    if differing:
        files = f"{len(differing)} of {result['files_checked']} files differ from the card"
    elif result["files_checked"] or result["ok"]:
        files = f"{result['files_checked']} files sha256-checked"
    else:
        files = "files not checked"
    lines = [f"{result['name']}: {status} ({files}, "
             f"{len(result['rows'])} numbers compared, {result['seconds']} s)"]
    lines += [f"  {line}" for line in differing]
    for row in result["rows"]:
        if not row["ok"]:
            lines.append(f"  {row['metric']}: card {row['card']!r}, measured "
                         f"{row['measured']!r} (allowed difference {row['allowed']:.3g})")
    lines += [f"  note: {note}" for note in result["notes"]]
    return "\n".join(lines)


def select_entries(names=(), *, cheap=False, max_seconds=CHEAP_SECONDS) -> list[str]:
    """``names`` (checked), or every entry with weights; ``cheap`` keeps those whose
    build-time evaluation took at most ``max_seconds``. A card that differs from the
    index is kept whatever it says: ``verify_entry`` reports it as failed."""
    chosen = []
    for name in names or loading.list_models():
        try:
            card = loading.get_card(name)
        except ArtifactIntegrityError:
            chosen.append(name)
            continue
        if not names and not card["files"]:
            continue
        if cheap and card.get("evaluation", {}).get("seconds", float("inf")) > max_seconds:
            continue
        chosen.append(name)
    return chosen
