"""Generative architectures; importing this package registers their builders (every
module in it is imported). The base classes users build their own families on are
public here: ``GenerativeModel`` (seeds, labels, replica scaling, optimizers),
``AdversarialModel`` / ``LatentGAN`` (two players) and ``VAE``."""
from keras_segen.registry import import_submodules

import_submodules(__name__)

from keras_segen.generation.adversarial import AdversarialModel, LatentGAN  # noqa: E402
from keras_segen.generation.base import GenerativeModel  # noqa: E402
from keras_segen.generation.vae import VAE  # noqa: E402

__all__ = ["AdversarialModel", "GenerativeModel", "LatentGAN", "VAE"]
