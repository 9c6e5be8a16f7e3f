"""Noise schedules, the forward noising formula and the DDIM sampling loop.

Discrete time ``t`` in ``[0, T)`` (``T`` = ``timesteps``); ``alpha_bar[t] =
prod_{s <= t} (1 - beta_s)`` is the signal fraction left at step ``t``:

* ``"cosine"`` (Nichol & Dhariwal 2021): ``alpha_bar(t) = f(t) / f(0)``, ``f(t) =
  cos(((t / T) + s) / (1 + s) * pi / 2) ** 2`` with ``s = 0.008``; every ``beta`` is
  clipped to at most 0.999 so the last step stays invertible.
* ``"linear"`` (Ho et al. 2020): ``beta`` from 1e-4 to 0.02 for ``T = 1000``. For other
  ``T`` both ends are multiplied by ``1000 / T`` (as improved-diffusion does), so that
  ``alpha_bar[T - 1]`` is near zero for any ``T`` (an unscaled 50-step schedule would
  end with 60% of the signal left and sampling would start from the wrong noise).

``noise_images(x0, noise, alpha_bar_t)`` is ``q(x_t | x_0)``: ``sqrt(ab) x0 + sqrt(1 -
ab) eps``. ``ddim_sample`` runs DDIM (Song et al. 2021) over ``steps`` strided
timesteps ``round(linspace(T - 1, 0, steps))`` inside one graph (``tf.while_loop``):
each step predicts the noise, recovers ``x0`` (clipped to [-1, 1], the noise then
recomputed from the clipped ``x0`` so the two stay consistent, as improved-diffusion's
DDIM does) and moves to the previous strided timestep; ``eta`` = 0 is deterministic,
``eta`` = 1 has DDPM's variance. The last step lands on ``x0`` itself.
"""
import math

import numpy as np
import tensorflow as tf

SCHEDULES = ("cosine", "linear")
_COSINE_OFFSET = 0.008
_MAX_BETA = 0.999
_LINEAR_BETAS = (1e-4, 0.02)  # for T = 1000


def betas(schedule, timesteps):
    """float64 numpy ``[timesteps]`` betas of ``schedule`` (``"cosine"``/``"linear"``)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps < 2:
        raise ValueError(f"timesteps must be an int >= 2, got {timesteps!r}")
    if schedule == "linear":
        scale = 1000.0 / timesteps
        low, high = _LINEAR_BETAS
        return np.minimum(np.linspace(low * scale, high * scale, timesteps), _MAX_BETA)
    steps = np.arange(timesteps + 1, dtype=np.float64) / timesteps
    f = np.cos((steps + _COSINE_OFFSET) / (1 + _COSINE_OFFSET) * math.pi / 2) ** 2
    return np.minimum(1.0 - f[1:] / f[:-1], _MAX_BETA)


def alpha_bar(schedule, timesteps):
    """float64 numpy ``[timesteps]``: the cumulative signal fraction ``alpha_bar[t]``."""
    return np.cumprod(1.0 - betas(schedule, timesteps))


def noise_images(x0, noise, alpha_bar_t):
    """``x_t = sqrt(ab) x0 + sqrt(1 - ab) noise``; ``alpha_bar_t`` is ``[N]`` (one per
    image) or a scalar."""
    alpha_bar_t = tf.cast(alpha_bar_t, x0.dtype)
    if alpha_bar_t.shape.rank == 1:
        alpha_bar_t = tf.reshape(alpha_bar_t, [-1, 1, 1, 1])
    return tf.sqrt(alpha_bar_t) * x0 + tf.sqrt(1.0 - alpha_bar_t) * noise


def strided_timesteps(timesteps, steps):
    """int32 ``[steps]`` DDIM timesteps, descending from ``T - 1`` to 0 (to ``T - 1``
    alone when ``steps`` is 1); ``steps`` may be a scalar tensor."""
    steps = tf.cast(steps, tf.int32)
    grid = tf.linspace(tf.constant(timesteps - 1, tf.float32), 0.0, steps)
    return tf.cast(tf.round(grid), tf.int32)


def ddim_sample(denoise, noise, alpha_bars, steps, *, eta=0.0, seed=None):
    """DDIM from ``noise`` [N, H, W, C] in ``steps`` steps (see the module docstring).

    Args:
        denoise: ``(x_t, t [N] int32) -> predicted noise`` (a graph-safe callable).
        noise: the initial ``x_T``.
        alpha_bars: float32 tensor ``[T]`` of the schedule.
        steps: int32 scalar (a tensor is fine) in ``[1, T]``.
        eta: 0 (deterministic) to 1 (DDPM-like noise at every step).
        seed: int32 ``[2]`` seed of the per-step noise (needed only for ``eta`` > 0;
            step ``i`` draws with ``stateless_fold_in(seed, i)``).
    Returns the sample ``x_0`` (float32, in [-1, 1]).
    """
    alpha_bars = tf.cast(alpha_bars, tf.float32)
    timesteps = int(alpha_bars.shape[0])
    steps = tf.cast(steps, tf.int32)
    taus = strided_timesteps(timesteps, steps)
    eta = tf.cast(eta, tf.float32)
    seed = tf.zeros([2], tf.int32) if seed is None else tf.cast(seed, tf.int32)
    x = tf.cast(noise, tf.float32)
    batch = tf.shape(x)[0]

    def body(i, x):
        t = taus[i]
        ab_t = tf.gather(alpha_bars, t)
        # The step after the last one is t = -1: all signal, alpha_bar = 1.
        ab_prev = tf.where(i + 1 < steps,
                           tf.gather(alpha_bars, taus[tf.minimum(i + 1, steps - 1)]), 1.0)
        eps = tf.cast(denoise(x, tf.fill([batch], t)), tf.float32)
        x0 = tf.clip_by_value((x - tf.sqrt(1.0 - ab_t) * eps) / tf.sqrt(ab_t), -1.0, 1.0)
        eps = (x - tf.sqrt(ab_t) * x0) / tf.sqrt(tf.maximum(1.0 - ab_t, 1e-12))
        sigma = eta * tf.sqrt((1.0 - ab_prev) / tf.maximum(1.0 - ab_t, 1e-12)
                              * (1.0 - ab_t / ab_prev))
        direction = tf.sqrt(tf.maximum(1.0 - ab_prev - sigma**2, 0.0)) * eps
        x = tf.sqrt(ab_prev) * x0 + direction
        x = tf.cond(
            sigma > 0.0,
            lambda: x + sigma * tf.random.stateless_normal(
                tf.shape(x), seed=tf.random.experimental.stateless_fold_in(seed, i)),
            lambda: x)
        return i + 1, x

    _, x = tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), x),
                         # the network may forget the static batch size (crop, reshape)
                         shape_invariants=(tf.TensorShape([]),
                                           tf.TensorShape([None, *x.shape[1:]])))
    return x
