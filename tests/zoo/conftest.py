"""A tiny zoo built once per session (a 2-level U-Net trained for 2 steps), and per-test
copies of it under ``$KERAS_SEGEN_ZOO`` so tests may damage it freely."""
import json
import shutil

import pytest

from zoo_helpers import TINY, temp_home, tiny_recipe


@pytest.fixture(scope="session")
def built_zoo(tmp_path_factory):
    """A zoo folder holding one entry, ``tiny_unet``, made by ``zoo build``."""
    root = tmp_path_factory.mktemp("built")
    zoo = root / "zoo"
    (zoo / "recipes").mkdir(parents=True)
    (zoo / "recipes" / f"{TINY}.json").write_text(json.dumps(tiny_recipe(), indent=2))
    home = temp_home(root / "home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_SEGEN_ZOO", str(zoo))
        patch.setenv("KERAS_SEGEN_HOME", str(home))
        from keras_segen.zoo.build import build_entry

        build_entry(TINY, run_dir=root / "run")
    return zoo


@pytest.fixture
def zoo_copy(built_zoo, tmp_path, monkeypatch):
    """A private copy of ``built_zoo`` as the active zoo, with an empty user cache."""
    zoo = tmp_path / "zoo"
    shutil.copytree(built_zoo, zoo)
    monkeypatch.setenv("KERAS_SEGEN_ZOO", str(zoo))
    monkeypatch.setenv("KERAS_SEGEN_HOME", str(temp_home(tmp_path / "home")))
    return zoo
