"""Artifacts fetched from a card's url into ``$KERAS_SEGEN_HOME``: checked file by file,
cached only when every file is intact, never fetched over the network when offline."""
import os
import shutil

import pytest

import keras_segen
from keras_segen import paths
from keras_segen.zoo import ArtifactIntegrityError, WeightsNotAvailableError
from keras_segen.zoo.artifacts import cache_dir, file_records
from keras_segen.zoo.cards import write_card
from keras_segen.zoo.index import write_index

from zoo_helpers import TINY


def publish_elsewhere(zoo, folder, url=None):
    """Move the entry's artifact out of the zoo to ``folder`` and point its card there."""
    shutil.move(zoo / "artifacts" / TINY, folder)
    card = keras_segen.get_card(TINY)
    card["url"] = url or folder.as_uri()
    write_card(card)
    write_index()
    return card


def cached_artifacts():
    root = paths.home_dir() / "artifacts"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_a_file_url_is_downloaded_into_the_cache_and_checked(zoo_copy, tmp_path):
    published = tmp_path / "published"
    card = publish_elsewhere(zoo_copy, published)
    model = keras_segen.load(TINY)
    assert model.count_params() == card["num_params"]
    assert cached_artifacts() == [cache_dir(card).name]
    assert file_records(cache_dir(card), TINY) == card["files"]
    shutil.rmtree(published)  # the cached copy is used from now on
    assert keras_segen.load(TINY).count_params() == card["num_params"]


def test_a_download_with_a_wrong_hash_is_refused_and_nothing_is_cached(zoo_copy, tmp_path):
    published = tmp_path / "published"
    publish_elsewhere(zoo_copy, published)
    target = published / "model.keras"
    data = bytearray(target.read_bytes())
    data[100] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match=f"refusing the download of artifacts/{TINY}/model.keras"):
        keras_segen.load(TINY)
    assert cached_artifacts() == []


def test_offline_network_urls_fail_at_once_naming_the_build_command(zoo_copy, tmp_path,
                                                                   monkeypatch):
    publish_elsewhere(zoo_copy, tmp_path / "published", url="https://example.invalid/zoo")
    monkeypatch.setenv("KERAS_SEGEN_OFFLINE", "1")
    with pytest.raises(WeightsNotAvailableError, match=f"keras-segen zoo build {TINY}"):
        keras_segen.load(TINY)
    assert cached_artifacts() == []


def test_missing_artifact_without_url_names_the_build_command(zoo_copy):
    shutil.rmtree(zoo_copy / "artifacts" / TINY)
    with pytest.raises(WeightsNotAvailableError) as raised:
        keras_segen.load(TINY)
    assert f"keras-segen zoo build {TINY}" in str(raised.value)
    assert os.fspath(zoo_copy / "artifacts" / TINY) in str(raised.value)
