"""Denoising diffusion (issue 11): DDPM training (Ho et al. 2020) with DDIM sampling
(Song et al. 2021) and classifier-free guidance (Ho & Salimans 2021), as one folder.

* ``schedule.py``: cosine / linear noise schedules, the forward noising formula and the
  DDIM loop (one ``tf.while_loop``);
* ``denoiser.py``: the U-Net (sinusoidal time embedding, GroupNorm + swish residual
  blocks, self-attention at low resolutions, optional class embedding with a null class);
* ``model.py``: ``DDIM(GenerativeModel)`` (train_step, EMA weights, ``generate``) and the
  ``"ddim"`` builder (kind ``"diffusion"``: ``keras_segen/kinds/diffusion.py``; serving:
  ``keras_segen/serving/diffusion.py``).

Importing this package registers the builder (``registry.import_submodules`` imports it
with the rest of ``keras_segen.generation``).
"""
from keras_segen.generation.diffusion.denoiser import SinusoidalEmbedding, build_denoiser
from keras_segen.generation.diffusion.model import DDIM, ddim

__all__ = ["DDIM", "SinusoidalEmbedding", "build_denoiser", "ddim"]
