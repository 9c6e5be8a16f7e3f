"""Finding a card's artifact folder and proving it is the one the card describes.

Resolution order (``resolve_artifact``):

1. the repository's ``zoo/artifacts/NAME/`` (``keras_segen.paths.artifacts_dir()``);
2. the user cache ``$KERAS_SEGEN_HOME/artifacts/NAME-<key>/``, where ``<key>`` is a hash
   of the card's file list, so a rebuilt entry never meets an older download;
3. the card's ``url`` (the artifact folder's URL: file ``artifacts/NAME/P`` of the card
   is ``<url>/P``), downloaded
   into the cache. Every file is hashed while it streams in; a wrong size or sha256
   removes the whole download, so the cache never holds a partial or wrong artifact.
   With ``KERAS_SEGEN_OFFLINE=1`` only ``file://`` URLs are fetched.

Every file the card lists is checked (size, then sha256) each time an artifact is
resolved; a mismatch is refused with an error naming the file and both hashes.

A card names its files relative to the zoo folder, ``artifacts/NAME/<file>`` (as it
names feature models), so a card's paths point at real files of the repository; inside
an artifact folder (repository, cache or url) a file lives at ``<file>``.
"""
import hashlib
import json
import os
import pathlib
import shutil
import urllib.error
import urllib.parse
import urllib.request

from keras_segen.paths import artifacts_dir, home_dir

OFFLINE_ENV = "KERAS_SEGEN_OFFLINE"
DOWNLOAD_TIMEOUT_S = 20
_CHUNK = 1 << 20


class ArtifactIntegrityError(ValueError):
    """An artifact file differs from what its card says (size or sha256)."""


class WeightsNotAvailableError(FileNotFoundError):
    """No trained weights for an entry here, and none could be fetched."""


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_prefix(name) -> str:
    """Where entry ``name``'s files sit relative to the zoo folder (cards name them so)."""
    return f"artifacts/{name}/"


def path_in_artifact(card_path, name) -> str:
    """A card's ``artifacts/NAME/<file>`` -> ``<file>``; ValueError for any other path."""
    prefix = artifact_prefix(name)
    if not card_path.startswith(prefix) or card_path == prefix:
        raise ValueError(f"zoo entry {name!r}: file {card_path!r} is not under {prefix}")
    return card_path[len(prefix):]


def file_records(folder, name) -> list[dict]:
    """``[{"path", "bytes", "sha256"}]`` of every file under ``folder`` (entry ``name``'s
    artifact), sorted, with paths as a card names them (``artifacts/NAME/<file>``)."""
    folder = pathlib.Path(folder)
    records = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            raise ValueError(f"{path} is a symbolic link; an artifact holds plain files only")
        if path.is_file():
            records.append({"path": artifact_prefix(name) + path.relative_to(folder).as_posix(),
                            "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    return records


def verify_files(folder, files, name) -> pathlib.Path:
    """Check that ``folder``, entry ``name``'s artifact, holds every file of ``files``
    with its size and sha256."""
    folder = pathlib.Path(folder)
    label = f"zoo entry {name!r}: "
    for record in files:
        path = folder / path_in_artifact(record["path"], name)
        if not path.is_file():
            raise ArtifactIntegrityError(f"{label}artifact file {path} is missing (the card "
                                         f"lists it with sha256 {record['sha256']})")
        size = path.stat().st_size
        actual = sha256_file(path)
        if actual != record["sha256"] or size != record["bytes"]:
            raise ArtifactIntegrityError(
                f"{label}refusing {path}: its sha256 is {actual} ({size} bytes) but the card "
                f"says {record['sha256']} ({record['bytes']} bytes). The file was changed or "
                "damaged; restore it, or rebuild the entry with keras-segen zoo build "
                f"{name}"
            )
    return folder


def cache_dir(card) -> pathlib.Path:
    key = hashlib.sha256(json.dumps(card["files"], sort_keys=True).encode()).hexdigest()[:16]
    return home_dir() / "artifacts" / f"{card['name']}-{key}"


def repo_dir(card) -> pathlib.Path:
    return artifacts_dir() / card["name"]


def build_hint(card) -> str:
    return (f"train them with: keras-segen zoo build {card['name']} (or "
            f"{card['recipe']['train_command']})")


def resolve_artifact(card) -> pathlib.Path:
    """The verified folder holding the files of ``card`` (see the module docstring)."""
    name = card["name"]
    if not card["files"]:
        data = card["dataset"].get("title") or card["dataset"]["name"]
        reason = (f"a recipe-only entry: its data, {data}, is not on this machine; "
                  "the card's dataset.prepare says how to get it" if card["dataset"].get("prepare")
                  else "it has not been built yet")
        from keras_segen.zoo.loading import has_pretrained_backbone

        backbone = (f"load({name!r}, weights=\"backbone\") gives it with its pretrained "
                    "backbone and a fresh head, ready to fine-tune; "
                    if has_pretrained_backbone(card["arch"], card["kwargs"]) else "")
        raise WeightsNotAvailableError(
            f"zoo entry {name!r} has no trained weights here ({reason}). To "
            f"{build_hint(card)}. {backbone}load({name!r}, weights=False) gives the "
            "untrained architecture."
        )
    for folder in (repo_dir(card), cache_dir(card)):
        if folder.is_dir():
            return verify_files(folder, card["files"], name)
    if card.get("url"):
        return download(card)
    raise WeightsNotAvailableError(
        f"the weights of zoo entry {name!r} are not available here: neither "
        f"{repo_dir(card)} nor the cache {cache_dir(card)} exists, and its card has no url "
        f"to fetch them from. To rebuild them, {build_hint(card)}"
    )


def _offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def download(card) -> pathlib.Path:
    """Fetch every file of ``card`` from its ``url`` into the cache, checking each one;
    the cache folder appears only when all of them arrived intact."""
    name, base = card["name"], card["url"].rstrip("/")
    scheme = urllib.parse.urlparse(base).scheme
    if scheme not in ("file", "http", "https"):
        raise ValueError(f"zoo entry {name!r}: unsupported url scheme in {base!r}")
    if scheme != "file" and _offline():
        raise WeightsNotAvailableError(
            f"the weights of zoo entry {name!r} are not cached here and {OFFLINE_ENV} is "
            f"set, so {base} is not fetched. Unset it to download, or {build_hint(card)}"
        )
    final = cache_dir(card)
    staging = final.with_name(f".{final.name}.download{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for record in card["files"]:
            inside = path_in_artifact(record["path"], name)
            _fetch(f"{base}/{urllib.parse.quote(inside)}", staging / inside, record, name, card)
        try:
            os.replace(staging, final)
        except OSError:  # another process finished the same download first
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return verify_files(final, card["files"], name)


def _fetch(url, path, record, name, card):
    path.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, \
                open(path, "wb") as handle:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
                if size > record["bytes"]:
                    break
                handle.write(chunk)
    except (urllib.error.URLError, OSError) as err:
        raise WeightsNotAvailableError(
            f"could not fetch {url} for zoo entry {name!r}: {err}. Nothing was cached. "
            f"To rebuild the weights instead, {build_hint(card)}"
        ) from err
    if size != record["bytes"] or digest.hexdigest() != record["sha256"]:
        actual = digest.hexdigest() if size <= record["bytes"] else "(longer than the card says)"
        raise ArtifactIntegrityError(
            f"zoo entry {name!r}: refusing the download of {record['path']} from {url}: its "
            f"sha256 is {actual} ({size} bytes) but the card says {record['sha256']} "
            f"({record['bytes']} bytes). Nothing was cached."
        )
