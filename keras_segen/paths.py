"""Where keras_segen keeps things: the zoo folder (recipes, cards, artifacts) and caches."""
import os
import pathlib


def zoo_dir() -> pathlib.Path:
    """The zoo folder: ``$KERAS_SEGEN_ZOO``, else the repository's ``zoo/``."""
    override = os.environ.get("KERAS_SEGEN_ZOO")
    if override:
        return pathlib.Path(override)
    return pathlib.Path(__file__).resolve().parent.parent / "zoo"


def recipes_dir() -> pathlib.Path:
    return zoo_dir() / "recipes"


def artifacts_dir() -> pathlib.Path:
    return zoo_dir() / "artifacts"


def home_dir() -> pathlib.Path:
    """User cache root: ``$KERAS_SEGEN_HOME``, else ``~/.cache/keras_segen``."""
    home = os.environ.get("KERAS_SEGEN_HOME")
    return pathlib.Path(home) if home else pathlib.Path.home() / ".cache" / "keras_segen"
