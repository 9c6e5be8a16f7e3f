"""StyleGAN (style-based generator, StyleGAN2 modulated convolutions): ``layers.py`` holds
the serializable building blocks, ``model.py`` the networks, the ``StyleGAN`` model and
the registered ``stylegan`` builder (imported here, so that importing the generation
package registers it)."""
from keras_segen.generation.stylegan.model import StyleGAN, stylegan

__all__ = ["StyleGAN", "stylegan"]
