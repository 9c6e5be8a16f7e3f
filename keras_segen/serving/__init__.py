"""Export trained models for TF Serving: ``<base_dir>/<name>/<version>/``.

``export(model, base_dir, name=..., version=...)`` writes, atomically, a SavedModel with
stable signatures that carry their preprocessing (see ``segmentation.py`` and
``generation.py`` for each kind's inputs and outputs; a segmentation model's batch
normalizations are folded into its convolutions first, ``folding.py``), the TF Serving
warmup records in
``assets.extra/``, the card and class names in ``assets/``, and optionally
``model.tflite`` for segmentation models. The published version is world-readable
(folders 0755, files 0644, whatever the umask; ``atomic.py``) for a server running as
another user.
"""
import pathlib

from keras_segen.serving.assets import check_class_names, class_names_from_card, write_assets
from keras_segen.serving.atomic import version_folder
from keras_segen.serving.endpoints import endpoints_for, serving_kind, signature_names
from keras_segen.serving.folding import fold_batch_norms
from keras_segen.serving.saved_model import write_saved_model
from keras_segen.serving.tflite import TFLITE_FILE, resolve_tflite_size, write_tflite
from keras_segen.serving.warmup import WARMUP_FILE, read_warmup_requests, write_warmup_requests

__all__ = [
    "export",
    "fold_batch_norms",
    "signature_names",
    "serving_kind",
    "read_warmup_requests",
    "TFLITE_FILE",
    "WARMUP_FILE",
]


def export(
    model,
    base_dir,
    *,
    name,
    version=1,
    overwrite=False,
    card=None,
    class_names=None,
    tflite=False,
    tflite_size=None,
    fold_batch_norm=True,
) -> pathlib.Path:
    """Write ``model`` for TF Serving; returns ``<base_dir>/<name>/<version>/``.

    Args:
        model: a segmentation model (float32 RGB in [0, 1] -> logits) or a keras_segen
            generative model (GAN, cGAN, VAE, CVAE, pix2pix).
        base_dir: TF Serving's model root; ``<base_dir>/<name>`` is one model's base path.
        name: the model's name (a folder name; also the warmup requests' model name).
        version: non-negative int, the version folder's name.
        overwrite: replace an existing version (else FileExistsError). The old version
            stays in place until the new one is complete.
        card: a dict written to ``assets/card.json``.
        class_names: written to ``assets/class_names.txt`` (default: the card's).
        tflite: also write ``model.tflite`` (segmentation models only), for uint8 images
            of ``tflite_size`` (an int or (H, W); default: the model's or the card's size).
        fold_batch_norm: serve a segmentation model with its BatchNormalizations folded
            into the convolutions before them (same outputs up to float rounding,
            fewer passes over the activations); False exports the layers as they are.
    """
    _check_name(name)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(
            f"version must be a non-negative int (TF Serving's folder name), got {version!r}"
        )
    from keras_segen.kinds import kind_of

    kind = kind_of(model)
    if class_names is None:
        class_names = class_names_from_card(card)
    if class_names:
        class_names = check_class_names(class_names, kind.num_classes(model), f"export {name}")
    model = kind.prepare_export(model, fold_batch_norm=fold_batch_norm, tflite=tflite)
    size = resolve_tflite_size(model, tflite_size, card) if tflite else None
    endpoints = endpoints_for(model)
    base = pathlib.Path(base_dir)
    with version_folder(base / name, version, overwrite=overwrite) as tmp:
        write_saved_model(model, endpoints, tmp)
        write_assets(tmp, card=card, class_names=class_names)
        write_warmup_requests(tmp, name, endpoints)
        if size is not None:
            write_tflite(model, tmp, size)
    return base / name / str(version)


def _check_name(name):
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or any(c in name for c in "/\\\0")
    ):
        raise ValueError(f"name must be a plain folder name (no slashes), got {name!r}")
