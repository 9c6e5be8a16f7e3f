"""Architecture registry: name -> builder + kind, filled by a decorator at import.

Builders know nothing about weights or the zoo; they take keyword arguments and return
an (unbuilt-weights) ``keras.Model``. Every architecture has a *kind* (see
``keras_segen.kinds``): the object that knows how to compile, train, evaluate, draw and
serve it. Users register their own builders with the same decorator
(``keras_segen.register_architecture``).
"""
import dataclasses
import difflib
import importlib
import pkgutil
from typing import Callable

TASKS = ("segmentation", "generation", "classification")
# The kind an architecture gets when its registration names none.
DEFAULT_KINDS = {"segmentation": "segmentation", "classification": "classification"}

# Sub-packages whose import registers their builders.
_BUILDER_PACKAGES = (
    "keras_segen.segmentation",
    "keras_segen.generation",
    "keras_segen.classification",
)


@dataclasses.dataclass(frozen=True)
class Architecture:
    name: str
    task: str
    builder: Callable
    description: str
    kind: str


_REGISTRY: dict[str, Architecture] = {}


def register_architecture(name: str, *, task: str, kind: str | None = None,
                          description: str = ""):
    """Decorator: ``@register_architecture("unet", task="segmentation")``.

    ``kind`` names the architecture's kind (``keras_segen.kinds.KIND_NAMES``);
    segmentation and classification builders default to their task's kind, generative
    builders must name theirs (``"adversarial"``, ``"variational"``, ``"image_to_image"``).
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    kind = kind or DEFAULT_KINDS.get(task)
    if kind is None:
        raise ValueError(f"architecture {name!r}: a {task} builder must name its kind")

    def decorator(builder):
        if name in _REGISTRY and _REGISTRY[name].builder is not builder:
            raise ValueError(f"architecture {name!r} is already registered")
        doc = description or (builder.__doc__ or "").strip().split("\n")[0]
        _REGISTRY[name] = Architecture(name, task, builder, doc, kind)
        return builder

    return decorator


def import_submodules(package_name: str) -> list[str]:
    """Import every module of package ``package_name`` (their decorators register their
    builders), so that a new architecture is one new file and nothing else."""
    package = importlib.import_module(package_name)
    names = sorted(info.name for info in pkgutil.iter_modules(package.__path__)
                   if not info.name.startswith("_"))
    for name in names:
        importlib.import_module(f"{package_name}.{name}")
    return names


def _ensure_loaded():
    for package in _BUILDER_PACKAGES:
        importlib.import_module(package)


def get_architecture(name: str) -> Architecture:
    _ensure_loaded()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(
            f"unknown architecture {name!r}.{hint} "
            f"Known: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name]


def build(arch: str, **kwargs):
    """Build architecture ``arch`` with builder keyword arguments ``kwargs``."""
    return get_architecture(arch).builder(**kwargs)


def build_without_pretrained(arch: str, kwargs: dict):
    """``build(arch, **kwargs)`` with the builder's ``WITHOUT_PRETRAINED`` kwargs applied:
    the same layers, no pretrained weights fetched or read (so "the architecture only"
    needs no weights package). A builder whose kwargs fetch weights declares them, e.g.
    ``fcn8s.WITHOUT_PRETRAINED = {"load_pretrained": False}``."""
    builder = get_architecture(arch).builder
    return builder(**{**kwargs, **getattr(builder, "WITHOUT_PRETRAINED", {})})


def list_architectures(task: str | None = None) -> list[str]:
    _ensure_loaded()
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return sorted(n for n, a in _REGISTRY.items() if task in (None, a.task))
