"""GAN losses as Keras ``Loss`` objects, one object per player.

Every loss here takes the discriminator's (critic's) raw outputs -- *logits*, no sigmoid
-- and returns float32 whatever the input dtype (bfloat16 under a mixed policy is fine).

One class per formulation, one instance per player::

    d_loss = NonSaturatingLoss(player="discriminator", label_smoothing=0.1)
    g_loss = NonSaturatingLoss(player="generator")

Conventions:

* ``player="discriminator"``: ``y_true`` says which samples are real (1) and which are
  generated (0); ``y_pred`` are the discriminator's logits for those samples. The usual
  two-batch form is ``d_loss(ones, real_logits) + d_loss(zeros, fake_logits)``, which
  :func:`discriminator_loss` spells out.
* ``player="generator"``: every entry of ``y_pred`` is the logit of a *generated* sample
  and ``y_true`` is ignored (pass ``ones_like(logits)``: the verdict the generator wants).
  :func:`generator_loss` does that.
* ``label_smoothing`` (discriminator only, probabilistic losses only) is *one-sided*:
  real targets become ``1 - label_smoothing``, generated targets stay 0 (Salimans et
  al. 2016).
* The result is reduced like any Keras loss (default ``"sum_over_batch_size"``: the
  mean over every element, so PatchGAN logit maps work unchanged) and, like every Keras
  loss, is divided by the number of replicas under a ``tf.distribute`` strategy so
  that summed per-replica gradients equal the global-batch gradient.

Per-element terms (``l`` logit, ``t`` target after smoothing, ``softplus(x) = log(1+e^x)``):

=================  =====================================  =======================
name               discriminator                          generator
=================  =====================================  =======================
``minimax``        ``BCE(t, sigmoid(l))``                 ``-softplus(l)`` (= log(1-D))
``non_saturating`` ``BCE(t, sigmoid(l))``                 ``softplus(-l)`` (= -log D)
``wasserstein``    real ``-l``, generated ``+l``          ``-l``
``hinge``          real ``relu(1-l)``, generated ``relu(1+l)``  ``-l``
``least_squares``  ``0.5 (l - t)^2``                      ``0.5 (l - 1)^2``
=================  =====================================  =======================

:func:`get_adversarial_loss` looks a loss up by name (or config, or instance) for a
player; :data:`ADVERSARIAL_LOSSES` lists the names.
"""

import keras
from keras import ops

__all__ = [
    "ADVERSARIAL_LOSSES",
    "AdversarialLoss",
    "HingeLoss",
    "LeastSquaresLoss",
    "MinimaxLoss",
    "NonSaturatingLoss",
    "WassersteinLoss",
    "discriminator_loss",
    "generator_loss",
    "get_adversarial_loss",
]

PLAYERS = ("generator", "discriminator")


class AdversarialLoss(keras.losses.Loss):
    """Base class: a GAN loss for one player. Subclasses define the two per-element terms.

    Args:
        player: ``"discriminator"`` (also used for a WGAN critic) or ``"generator"``.
        label_smoothing: one-sided smoothing of the real targets, in ``[0, 1)``;
            discriminator side of probabilistic losses only.
        reduction, name, dtype: as for any ``keras.losses.Loss`` (dtype defaults to
            float32, the dtype the loss is computed and returned in).
    """

    #: Whether targets are probabilities that label smoothing can soften.
    supports_label_smoothing = False

    def __init__(
        self,
        player="discriminator",
        label_smoothing=0.0,
        reduction="sum_over_batch_size",
        name=None,
        dtype=None,
    ):
        if player not in PLAYERS:
            raise ValueError(
                f"{type(self).__name__}: player must be one of {PLAYERS}, got {player!r}"
            )
        label_smoothing = float(label_smoothing)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f"{type(self).__name__}: label_smoothing must be in [0, 1), "
                f"got {label_smoothing}"
            )
        if label_smoothing and not self.supports_label_smoothing:
            raise ValueError(
                f"{type(self).__name__} has no probability targets to smooth; "
                f"use label_smoothing=0 (got {label_smoothing})"
            )
        if label_smoothing and player == "generator":
            raise ValueError(
                "label_smoothing is one-sided: it applies to the discriminator's real "
                f"targets, not to player='generator' (got {label_smoothing})"
            )
        super().__init__(
            name=name or f"{_snake_name(type(self).__name__)}_{player}",
            reduction=reduction,
            dtype=dtype or "float32",
        )
        self.player = player
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        logits = ops.cast(y_pred, self.dtype)
        if self.player == "generator":
            return self.generator_term(logits)
        is_real = ops.broadcast_to(ops.cast(y_true, self.dtype), ops.shape(logits))
        return self.discriminator_term(is_real, logits)

    def discriminator_term(self, is_real, logits):
        """Per-element loss of the discriminator; ``is_real`` is 1 or 0 per element."""
        raise NotImplementedError

    def generator_term(self, logits):
        """Per-element loss of the generator for logits of generated samples."""
        raise NotImplementedError

    def smoothed_targets(self, is_real):
        """Real targets ``1 -> 1 - label_smoothing``; generated targets stay 0."""
        return is_real * (1.0 - self.label_smoothing)

    def get_config(self):
        config = super().get_config()
        config.update(player=self.player, label_smoothing=self.label_smoothing)
        return config


@keras.saving.register_keras_serializable(package="keras_segen")
class MinimaxLoss(AdversarialLoss):
    """The original GAN game (Goodfellow et al. 2014): D maximizes
    ``log D(x) + log(1 - D(G(z)))``, G minimizes ``log(1 - D(G(z)))`` (saturates early
    in training; kept for completeness and comparison)."""

    supports_label_smoothing = True

    def discriminator_term(self, is_real, logits):
        return ops.binary_crossentropy(self.smoothed_targets(is_real), logits, from_logits=True)

    def generator_term(self, logits):
        return -ops.softplus(logits)


@keras.saving.register_keras_serializable(package="keras_segen")
class NonSaturatingLoss(MinimaxLoss):
    """Minimax discriminator; the generator maximizes ``log D(G(z))`` instead, which keeps
    its gradients large while D wins (the DCGAN default)."""

    def generator_term(self, logits):
        return ops.softplus(-logits)


@keras.saving.register_keras_serializable(package="keras_segen")
class WassersteinLoss(AdversarialLoss):
    """WGAN (Arjovsky et al. 2017): the critic minimizes ``E[f(G(z))] - E[f(x)]``, the
    generator minimizes ``-E[f(G(z))]``. Needs a Lipschitz critic (e.g. a gradient
    penalty, as in ``wgan_gp``)."""

    def discriminator_term(self, is_real, logits):
        return ops.where(is_real > 0.5, -logits, logits)

    def generator_term(self, logits):
        return -logits


@keras.saving.register_keras_serializable(package="keras_segen")
class HingeLoss(AdversarialLoss):
    """Hinge GAN loss (Lim & Ye 2017; SN-GAN, BigGAN): D minimizes ``relu(1 - f(x)) +
    relu(1 + f(G(z)))``, G minimizes ``-f(G(z))``."""

    def discriminator_term(self, is_real, logits):
        return ops.where(is_real > 0.5, ops.relu(1.0 - logits), ops.relu(1.0 + logits))

    def generator_term(self, logits):
        return -logits


@keras.saving.register_keras_serializable(package="keras_segen")
class LeastSquaresLoss(AdversarialLoss):
    """LSGAN (Mao et al. 2017) with targets a=0 (generated), b=c=1 (real):
    D minimizes ``0.5 (f(x) - 1)^2 + 0.5 f(G(z))^2``, G minimizes ``0.5 (f(G(z)) - 1)^2``."""

    supports_label_smoothing = True

    def discriminator_term(self, is_real, logits):
        return 0.5 * ops.square(logits - self.smoothed_targets(is_real))

    def generator_term(self, logits):
        return 0.5 * ops.square(logits - 1.0)


ADVERSARIAL_LOSSES = {
    "minimax": MinimaxLoss,
    "non_saturating": NonSaturatingLoss,
    "wasserstein": WassersteinLoss,
    "hinge": HingeLoss,
    "least_squares": LeastSquaresLoss,
}


def get_adversarial_loss(identifier, *, player, label_smoothing=0.0):
    """The loss for ``player`` from a name in :data:`ADVERSARIAL_LOSSES`, a serialized
    config, or a ``keras.losses.Loss`` instance (returned as is, after checking that an
    :class:`AdversarialLoss` plays the requested side).

    ``label_smoothing`` applies to names only (a config or instance carries its own).
    """
    if player not in PLAYERS:
        raise ValueError(f"player must be one of {PLAYERS}, got {player!r}")
    if isinstance(identifier, str):
        key = identifier.lower().replace("-", "_")
        if key not in ADVERSARIAL_LOSSES:
            raise ValueError(
                f"unknown adversarial loss {identifier!r}; "
                f"known: {', '.join(ADVERSARIAL_LOSSES)}"
            )
        smoothing = label_smoothing if player == "discriminator" else 0.0
        return ADVERSARIAL_LOSSES[key](player=player, label_smoothing=smoothing)
    if isinstance(identifier, dict):
        identifier = keras.saving.deserialize_keras_object(identifier)
    if not isinstance(identifier, keras.losses.Loss):
        raise TypeError(
            f"expected a loss name ({', '.join(ADVERSARIAL_LOSSES)}), a serialized "
            f"loss or a keras.losses.Loss for the {player}, got {identifier!r}"
        )
    if isinstance(identifier, AdversarialLoss) and identifier.player != player:
        raise ValueError(
            f"{identifier.name} is a player={identifier.player!r} loss but is used as "
            f"the {player} loss; build it with player={player!r}"
        )
    return identifier


def discriminator_loss(loss, real_logits, fake_logits):
    """``loss(1, real_logits) + loss(0, fake_logits)``: the discriminator's full loss."""
    return loss(ops.ones_like(real_logits), real_logits) + loss(
        ops.zeros_like(fake_logits), fake_logits
    )


def generator_loss(loss, fake_logits):
    """``loss(1, fake_logits)``: the generator's loss on the logits of its samples."""
    return loss(ops.ones_like(fake_logits), fake_logits)


def _snake_name(class_name):
    return "".join(
        f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(class_name)
    )
