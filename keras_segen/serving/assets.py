"""``assets/card.json`` and ``assets/class_names.txt`` next to the SavedModel."""
import json
import pathlib


def class_names_from_card(card):
    """Class names a zoo card lists (``classes.names``, ``classes`` or ``class_names``)."""
    if not card:
        return None
    classes = card.get("classes")
    if isinstance(classes, dict):
        classes = classes.get("names")
    names = classes or card.get("class_names")
    return list(names) if names else None


def check_class_names(class_names, num_classes, where):
    names = [str(name) for name in class_names]
    if any(not name or "\n" in name for name in names):
        raise ValueError(f"{where}: class names must be non-empty single-line strings: {names}")
    if num_classes is not None and len(names) != num_classes:
        raise ValueError(
            f"{where}: {len(names)} class names {names} for a model with {num_classes} classes"
        )
    return names


def write_assets(version_dir, *, card=None, class_names=None) -> list:
    """Write the card (JSON) and the class names (one a line); returns the written paths."""
    folder = pathlib.Path(version_dir) / "assets"
    written = []
    if card is not None:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "card.json"
        path.write_text(json.dumps(card, indent=2, default=_plain) + "\n")
        written.append(path)
    if class_names:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "class_names.txt"
        path.write_text("".join(f"{name}\n" for name in class_names))
        written.append(path)
    return written


def _plain(value):
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, pathlib.PurePath):
        return str(value)
    raise TypeError(f"card.json: cannot write a {type(value).__name__} as JSON")
