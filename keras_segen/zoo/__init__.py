"""The model zoo: cards (``zoo/cards/NAME.json``), a generated index, verified artifacts.

Python: ``load(name, weights=True, num_classes=None)``, ``list_models(task)``,
``get_card(name)`` (also as ``keras_segen.load`` etc.). Command line:
``keras-segen list``, ``info NAME``, ``zoo build NAME``, ``zoo verify [NAME...]``,
``zoo index``, ``zoo card NAME``.

Modules, one job each: ``schema`` (what a card holds), ``describe`` (card fields that
follow from a recipe), ``cards`` (card files), ``index`` (zoo/index.json),
``artifacts`` (resolution, sha256, cache, download), ``loading`` (load), ``evaluation``
(the card's metrics), ``samples`` (PNG samples), ``build`` (zoo build), ``verify`` (zoo
verify), ``commands`` (the CLI's text output).
"""
from keras_segen.zoo.artifacts import ArtifactIntegrityError, WeightsNotAvailableError
from keras_segen.zoo.loading import get_card, list_models, load

__all__ = ["ArtifactIntegrityError", "WeightsNotAvailableError", "get_card", "list_models",
           "load"]
