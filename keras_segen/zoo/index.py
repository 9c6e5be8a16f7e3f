"""``zoo/index.json``: one summary line per card, generated from the cards
(``keras-segen zoo index``), never edited by hand. ``list_models`` and the ``list``
command read it; a test fails when it is stale (a card changed after it was written).
Each line records the sha256 of its card file; ``indexed_card`` (what ``load`` and
``get_card`` read) refuses a card that differs, so a card and artifact replaced
together are not trusted.
"""
import hashlib
import json
import pathlib

from keras_segen.kinds import kind_of_arch
from keras_segen.paths import zoo_dir
from keras_segen.training.io import write_json_atomic
from keras_segen.zoo import describe
from keras_segen.zoo.artifacts import ArtifactIntegrityError
from keras_segen.zoo.cards import card_names, card_path, read_card, read_card_bytes

INDEX_VERSION = 1


def index_path() -> pathlib.Path:
    return zoo_dir() / "index.json"


def headline(card) -> dict:
    """``{"<dataset>/<test split>": {metric: value}}`` for the card's headline metrics."""
    recipe = card["recipe"]["config"]
    key = describe.metrics_key(recipe, describe.splits(recipe)["test"])
    measured = card["metrics"].get(key, {})
    chosen = {m: measured[m] for m in kind_of_arch(card["arch"]).headline_metrics
              if isinstance(measured.get(m), (int, float))}
    return {key: chosen} if chosen else {}


def entry(card, card_bytes: bytes) -> dict:
    return {
        "task": card["task"],
        "arch": card["arch"],
        "dataset": card["dataset"].get("title") or card["dataset"]["name"],
        "headline": headline(card),
        "num_params": card["num_params"],
        "size_bytes": card["size_bytes"],
        "has_weights": bool(card["files"]),
        "license": card["license"]["weights"],
        "card": f"cards/{card['name']}.json",
        "card_sha256": hashlib.sha256(card_bytes).hexdigest(),
    }


def build_index() -> dict:
    """The index the current cards make (every card is validated on the way)."""
    entries = {}
    for name in card_names():
        path = card_path(name)
        data = read_card_bytes(path)
        entries[name] = entry(read_card(path, data), data)
    return {"index_version": INDEX_VERSION,
            "generated_by": "keras-segen zoo index",
            "entries": entries}


def write_index() -> pathlib.Path:
    path = index_path()
    write_json_atomic(path, build_index())
    return path


def read_index() -> dict:
    """The index on disk; without one (a fresh zoo folder), the one the cards make."""
    path = index_path()
    if not path.is_file():
        return build_index()
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"zoo index {path} is not valid JSON ({err}); regenerate it "
                         "with: keras-segen zoo index") from err


def stale_entries() -> list[str]:
    """Names whose index line differs from what their card makes (empty: up to date)."""
    on_disk = read_index().get("entries", {}) if index_path().is_file() else None
    if on_disk is None:
        return ["<index.json missing>"]
    wanted = build_index()["entries"]
    return sorted(name for name in set(on_disk) | set(wanted)
                  if on_disk.get(name) != wanted.get(name))


def indexed_card(name, line) -> dict:
    """The card of entry ``name`` whose index line is ``line``, refused unless its file's
    sha256 is the one the index records."""
    path = card_path(name)
    data = read_card_bytes(path)
    actual = hashlib.sha256(data).hexdigest()
    recorded = line.get("card_sha256")
    if actual != recorded:
        raise ArtifactIntegrityError(
            f"zoo card {path} has sha256 {actual} but {index_path()} records {recorded}: "
            "the card changed after the index was written, so neither it nor its files "
            "are trusted. Restore the card; maintainers who changed it on purpose "
            "regenerate the index with: keras-segen zoo index")
    return read_card(path, data)
