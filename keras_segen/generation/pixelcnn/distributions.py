"""The per-sub-pixel output distributions of the PixelCNN over the 256 values 0..255.

* ``"categorical256"``: ``P = 256`` logits, a softmax (van den Oord et al. 2016).
* ``"logistic_mixture"``: ``P = 3 K`` -- mixture logits, means and log-scales of ``K``
  logistics on [-1, 1], discretized to 256 bins of width 2/255, the edge bins taking
  the tails (PixelCNN++, Salimans et al. 2017). The colour order is in the network's
  masks, so each channel's mixture is independent given the features.

``log_prob(params, values)`` is the log-probability of integer values (training,
likelihoods); ``bin_log_probs(params)`` the log-probabilities of all 256 values (the
sampler, one position at a time).
"""
import math

from keras import ops

OUTPUTS = ("categorical256", "logistic_mixture")
NUM_VALUES = 256
_MIN_LOG_SCALE = -7.0


def params_per_channel(output, mixture_components):
    return NUM_VALUES if output == "categorical256" else 3 * int(mixture_components)


def _split_mixture(params):
    logits, means, log_scales = ops.split(params, 3, axis=-1)
    return logits, means, ops.maximum(log_scales, _MIN_LOG_SCALE)


def _logistic_bin_log_probs(x, means, log_scales):
    """log P(bin at ``x`` in [-1, 1]) for each component (``x`` broadcasts with them)."""
    centred = x - means
    inv_scale = ops.exp(-log_scales)
    plus = inv_scale * (centred + 1.0 / 255.0)
    minus = inv_scale * (centred - 1.0 / 255.0)
    log_cdf_plus = plus - ops.softplus(plus)  # log sigmoid(plus): the bin of value 0
    log_one_minus_cdf_minus = -ops.softplus(minus)  # the bin of value 255
    delta = ops.sigmoid(plus) - ops.sigmoid(minus)
    middle = inv_scale * centred
    # Where the bin's mass underflows: density at the centre times the bin width.
    log_pdf_mid = middle - log_scales - 2.0 * ops.softplus(middle) - math.log(127.5)
    inner = ops.where(delta > 1e-5, ops.log(ops.maximum(delta, 1e-12)), log_pdf_mid)
    return ops.where(x < -0.999, log_cdf_plus,
                     ops.where(x > 0.999, log_one_minus_cdf_minus, inner))


def log_prob(params, values, output):
    """``params [..., P]``, int ``values [...]`` in 0..255 -> float32 log P ``[...]``."""
    params = ops.cast(params, "float32")
    values = ops.cast(values, "int32")
    if output == "categorical256":
        log_probs = ops.log_softmax(params, axis=-1)
        picked = ops.take_along_axis(log_probs, values[..., None], axis=-1)
        return picked[..., 0]
    logits, means, log_scales = _split_mixture(params)
    x = ops.cast(values, "float32")[..., None] / 127.5 - 1.0
    per_component = _logistic_bin_log_probs(x, means, log_scales)
    return ops.logsumexp(per_component + ops.log_softmax(logits, axis=-1), axis=-1)


def bin_log_probs(params, output):
    """``params [..., P]`` -> float32 log-probabilities of the 256 values ``[..., 256]``."""
    params = ops.cast(params, "float32")
    if output == "categorical256":
        return ops.log_softmax(params, axis=-1)
    logits, means, log_scales = _split_mixture(params)
    x = ops.arange(NUM_VALUES, dtype="float32")[:, None] / 127.5 - 1.0  # [256, 1]
    per_component = _logistic_bin_log_probs(x, means[..., None, :], log_scales[..., None, :])
    weights = ops.log_softmax(logits, axis=-1)[..., None, :]
    return ops.logsumexp(per_component + weights, axis=-1)
