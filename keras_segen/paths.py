"""Where keras_segen keeps things: the zoo folder (recipes, cards, artifacts) and caches."""
import os
import pathlib


ZOO_ENV = "KERAS_SEGEN_ZOO"


def zoo_dir() -> pathlib.Path:
    """The zoo folder: ``$KERAS_SEGEN_ZOO``, else the repository's ``zoo/``. A variable
    naming no folder is an error: read as an empty zoo it would hide every entry."""
    override = os.environ.get(ZOO_ENV)
    if not override:
        return pathlib.Path(__file__).resolve().parent.parent / "zoo"
    path = pathlib.Path(override)
    if not path.is_dir():
        error, what = ((NotADirectoryError, "not a folder") if path.exists()
                       else (FileNotFoundError, "no such folder"))
        raise error(f"{ZOO_ENV}={override}: {what}; point it at a zoo folder "
                    "(one holding recipes/ and cards/) or unset it to use the "
                    "repository's zoo/")
    return path


def recipes_dir() -> pathlib.Path:
    return zoo_dir() / "recipes"


def artifacts_dir() -> pathlib.Path:
    return zoo_dir() / "artifacts"


def home_dir() -> pathlib.Path:
    """User cache root: ``$KERAS_SEGEN_HOME``, else ``~/.cache/keras_segen``."""
    home = os.environ.get("KERAS_SEGEN_HOME")
    return pathlib.Path(home) if home else pathlib.Path.home() / ".cache" / "keras_segen"
