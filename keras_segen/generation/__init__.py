"""Generative architectures; importing this module registers their builders."""
from keras_segen.generation import (  # noqa: F401
    cgan,
    cvae,
    dcgan,
    pix2pix,
    vae,
    wgan_gp,
)
