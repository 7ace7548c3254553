"""Batch normalization of the seed papers: shift-based BN (Hubara et al.),
Range BN (Banner et al., paper and code forms) and Graham's BN with a
low-precision normalized activation.

Float model arithmetic is float64 numpy throughout (means, ranges, square
roots, the affine step); the only roundings into a format are Graham's
``z -> z_q`` (one rounding by fxsim's core, via ``fxsim.quantize``) and the
power-of-two rounding :func:`~fxsim.nn.quantizers.ap2` of shift BN (exact:
its results are powers of two, so every product with one is an exact
shift in float64).

Axes.  ``axis`` names the axes the statistics reduce over (batch and
spatial); the others are channels.  ``axis=None`` means every axis except
axis 1 -- ``(0,)`` for ``(N, C)``, ``(0, 2, 3)`` for ``(N, C, H, W)`` -- and
``(0,)`` for 1-D input.  ``gamma``/``beta``: scalars, arrays of the channel
shape (``x.shape`` without the reduced axes, e.g. ``(C,)``), or arrays that
broadcast to the keepdims statistics shape.  Gradients ``dgamma``/``dbeta``
come back in the channel shape.  The values of one channel are taken in C
order of the reduced axes (for NCHW: batch, then rows, then columns), which
is what Range BN's chunks and the tie rule below refer to.

Non-finite inputs are a ValueError naming the first offending index; a
channel whose denominator is 0 (constant channel with ``eps = 0``) is a
ValueError naming the channel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import codec as _codec
from .. import formats as _formats
from .quantizers import ap2

__all__ = ["ap2", "shift_bn", "range_bn_scale", "range_bn", "range_bn_backward", "RangeBNCache",
           "graham_bn", "graham_bn_backward", "GrahamBNCache"]


# ---------------------------------------------------------------- helpers
def _where(flat_index, shape):
    return tuple(int(i) for i in np.unravel_index(int(flat_index), shape)) if shape else ()


def _finite(x, name, what="x"):
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: {what} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"{name}: {what} = {arr.ravel()[i]!r} at index {_where(i, arr.shape)} "
                         "is not finite")
    return arr


@dataclass(frozen=True)
class _Axes:
    reduced: tuple        # axes the statistics reduce over
    keep: tuple           # keepdims shape of the statistics
    channel: tuple        # x.shape without the reduced axes
    n: int                # values per channel


def _axes(x, axis, name) -> _Axes:
    nd = x.ndim
    if nd == 0:
        raise ValueError(f"{name}: needs at least a 1-D array")
    if axis is None:
        reduced = (0,) if nd == 1 else tuple(a for a in range(nd) if a != 1)
    else:
        items = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        reduced = []
        for a in items:
            if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -nd <= a < nd:
                raise ValueError(f"{name}: axis {a!r} is out of range for {nd}-D input")
            reduced.append(int(a) % nd)
        if len(set(reduced)) != len(reduced) or not reduced:
            raise ValueError(f"{name}: axis {axis!r} must name distinct axes")
        reduced = tuple(sorted(reduced))
    keep = tuple(1 if a in reduced else s for a, s in enumerate(x.shape))
    channel = tuple(s for a, s in enumerate(x.shape) if a not in reduced)
    n = int(np.prod([x.shape[a] for a in reduced], dtype=np.int64))
    if n == 0:
        raise ValueError(f"{name}: no values to normalize over axes {reduced} of shape {x.shape}")
    return _Axes(reduced, keep, channel, n)


def _param(p, ax: _Axes, name, what):
    arr = _finite(p, name, what)
    if arr.shape == ax.channel:
        return arr.reshape(ax.keep)
    try:
        return np.broadcast_to(arr, ax.keep)
    except ValueError:
        raise ValueError(f"{name}: {what} of shape {arr.shape} fits neither the channel shape "
                         f"{ax.channel} nor the statistics shape {ax.keep}") from None


def _per_channel(stat_keep, ax: _Axes):
    return np.reshape(stat_keep, ax.channel)


def _bn_inputs(x, axis, gamma, beta, eps, name):
    """Checked (x, axes, gamma, beta, eps) of a batch norm."""
    x = _finite(x, name)
    ax = _axes(x, axis, name)
    eps = float(eps)
    if not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"{name}: eps must be finite and >= 0, got {eps!r}")
    return x, ax, _param(gamma, ax, name, "gamma"), _param(beta, ax, name, "beta"), eps


def _check_denominator(den, ax: _Axes, name, what):
    bad = ~(den > 0)
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"{name}: {what} is {den.ravel()[i]!r} at channel index "
                         f"{_where(i, ax.channel)}: a constant channel needs eps > 0")


def _channels_last(x, ax: _Axes):
    """``x`` as ``(*channel, n)``: each channel's values in C order of the
    reduced axes."""
    k = len(ax.reduced)
    moved = np.moveaxis(x, ax.reduced, tuple(range(x.ndim - k, x.ndim)))
    return moved.reshape(ax.channel + (ax.n,)), moved.shape


def _channels_back(flat, moved_shape, ax: _Axes, ndim):
    k = len(ax.reduced)
    return np.moveaxis(flat.reshape(moved_shape), tuple(range(ndim - k, ndim)), ax.reduced)


# ---------------------------------------------------------------- shift BN
def shift_bn(x, gamma=1.0, beta=0.0, eps=1e-5, axis=None):
    """Shift-based batch norm (Hubara et al.), forward:

    ``C = x - mean(x)``; ``var = mean(C * AP2(C))``;
    ``xhat = C * AP2(1 / sqrt(var + eps))``; ``y = AP2(gamma) * xhat + beta``.

    Statistics per channel over ``axis`` (see the module doc).  ``AP2`` is
    :func:`fxsim.nn.quantizers.ap2` (nearest power of two in the log domain,
    ``AP2(0) = 0``): every product with an AP2 value is a shift, exact in
    float64 barring under/overflow.  The mean, ``1/sqrt`` and ``+ beta`` are
    float64 numpy.  Returns ``y`` (float64, ``x``'s shape).
    """
    name = "shift_bn"
    x, ax, g, b, eps = _bn_inputs(x, axis, gamma, beta, eps, name)
    c = x - np.mean(x, axis=ax.reduced, keepdims=True)
    var = np.mean(c * ap2(c), axis=ax.reduced, keepdims=True)
    _check_denominator(var + eps, ax, name, "var + eps")
    xhat = c * ap2(1.0 / np.sqrt(var + eps))
    return ap2(g) * xhat + b


# ---------------------------------------------------------------- Range BN
_CODE_CONSTANT = 0.5 * 0.35 * (1 + math.sqrt(math.pi * math.log(4)))


def range_bn_scale(n, variant="paper") -> float:
    """Range BN's scale correction ``K`` (``sigma ~ K * range``).

    ``variant="paper"``: ``C(n) = 1 / sqrt(2 ln n)`` for ``n`` values.
    ``variant="code"``: ``0.5 * 0.35 * (1 + sqrt(pi ln 4)) / sqrt(2 ln n)``
    with ``n`` the chunk size (the authors' ``scale_fix``).  ``n >= 2``.
    float64 (``math``: each operation rounded to nearest).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"range_bn_scale: n must be an integer >= 2 (ln 1 = 0), got {n!r}")
    if variant == "paper":
        return 1.0 / math.sqrt(2.0 * math.log(n))
    if variant == "code":
        return _CODE_CONSTANT / math.sqrt(2.0 * math.log(n))
    raise ValueError(f"range_bn_scale: variant must be 'paper' or 'code', got {variant!r}")


@dataclass(frozen=True, eq=False)
class RangeBNCache:
    """What :func:`range_bn` computed (per-channel arrays in the channel
    shape) and what :func:`range_bn_backward` needs.

    ``range``: max - min (paper) or the mean over chunks of chunk max - chunk
    min (code); ``scale_fix``: ``K``; ``inv_scale = 1 / (K * range + eps)``;
    ``running_mean``/``running_inv_scale``: the updated running statistics
    (training) or the ones used (inference)."""
    variant: str
    training: bool
    mean: np.ndarray
    range: np.ndarray | None
    scale_fix: float | None
    inv_scale: np.ndarray
    running_mean: np.ndarray
    running_inv_scale: np.ndarray
    xhat: np.ndarray = field(repr=False)
    num_chunks: int = 1
    _ax: _Axes = field(default=None, repr=False)
    _gamma: np.ndarray = field(default=None, repr=False)
    _c: np.ndarray = field(default=None, repr=False)
    _argmax: np.ndarray = field(default=None, repr=False)
    _argmin: np.ndarray = field(default=None, repr=False)
    _moved_shape: tuple = field(default=None, repr=False)


def range_bn(x, gamma=1.0, beta=0.0, *, axis=None, variant="paper", eps=1e-5, num_chunks=16,
             running_mean=None, running_inv_scale=None, momentum=0.1, training=True):
    """Range batch norm (Banner et al.), forward.  Returns ``(y, cache)``.

    Per channel, over the ``n`` values of the reduced axes:

    ``variant="paper"``: ``range = max(x) - min(x)`` (= range of
    ``x - mean``), ``K = 1 / sqrt(2 ln n)``.

    ``variant="code"`` (the authors' ``RangeBN``): the channel's values, in
    C order of the reduced axes, are cut into ``num_chunks`` (default 16)
    consecutive chunks of ``n_chunk = n / num_chunks`` values (``n`` must
    divide evenly, as the code's ``view`` requires);
    ``range = mean_j(max_j) - mean_j(min_j)`` (the code's operation order;
    equal to the mean over chunks of max - min),
    ``K = 0.5 * 0.35 * (1 + sqrt(pi ln 4)) / sqrt(2 ln n_chunk)``.

    Both: ``inv_scale = 1 / (K * range + eps)`` and
    ``y = (x - mean) * inv_scale * gamma + beta`` (the code's form: ``eps``
    is added to the scale, not under a root; ``eps=0`` is the paper's
    ``(x - mean) / (C(n) * range)``).

    Running statistics (both variants, as the authors' code):
    ``running = momentum * running + (1 - momentum) * new`` -- ``momentum``
    (default 0.1) weights the OLD value -- for ``mean`` and ``inv_scale``
    (the code's ``running_var`` holds the inverse scale).  Missing running
    statistics start at 0, as the code's buffers do.  The updated values
    come back in the cache (the inputs are not modified).  With
    ``training=False`` the given running statistics normalize ``x``.

    The quantizers the authors wrap around the layer (input, scale, weight,
    bias, gradient) are not part of it: compose with
    :func:`fxsim.nn.quantizers.gemmlowp_quantize`.  Float64 model arithmetic.
    """
    name = "range_bn"
    if variant not in ("paper", "code"):
        raise ValueError(f"{name}: variant must be 'paper' or 'code', got {variant!r}")
    x, ax, g, b, eps = _bn_inputs(x, axis, gamma, beta, eps, name)
    momentum = float(momentum)
    run_m = np.zeros(ax.keep) if running_mean is None else \
        _param(running_mean, ax, name, "running_mean")
    run_s = np.zeros(ax.keep) if running_inv_scale is None else \
        _param(running_inv_scale, ax, name, "running_inv_scale")
    if not training:
        if running_mean is None or running_inv_scale is None:
            raise ValueError(f"{name}: training=False needs running_mean and running_inv_scale")
        c = x - run_m
        xhat = c * run_s
        y = xhat * g + b
        cache = RangeBNCache(variant, False, _per_channel(run_m, ax), None, None,
                             _per_channel(run_s, ax), _per_channel(run_m, ax),
                             _per_channel(run_s, ax), xhat, 1, ax, g, c)
        return y, cache

    chunks = 1 if variant == "paper" else num_chunks
    if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)) or chunks < 1:
        raise ValueError(f"{name}: num_chunks must be a positive integer, got {chunks!r}")
    chunks = int(chunks)
    if ax.n % chunks:
        raise ValueError(f"{name}: {ax.n} values per channel do not split into {chunks} equal "
                         f"chunks (variant={variant!r})")
    size = ax.n // chunks
    if size < 2:
        raise ValueError(f"{name}: chunks of {size} value(s): the scale needs ln(n) > 0, so at "
                         f"least 2 values per chunk (variant={variant!r}, n={ax.n})")
    K = range_bn_scale(size, variant)

    mean = np.mean(x, axis=ax.reduced, keepdims=True)
    flat, moved_shape = _channels_last(x, ax)
    blocks = flat.reshape(ax.channel + (chunks, size))
    amax = np.argmax(blocks, axis=-1)
    amin = np.argmin(blocks, axis=-1)
    cmax = np.take_along_axis(blocks, amax[..., None], -1)[..., 0]
    cmin = np.take_along_axis(blocks, amin[..., None], -1)[..., 0]
    if variant == "paper":
        spread = cmax[..., 0] - cmin[..., 0]
    else:
        spread = np.mean(cmax, axis=-1) - np.mean(cmin, axis=-1)
    den = K * spread.reshape(ax.keep) + eps
    _check_denominator(den, ax, name, "K * range + eps")
    inv = 1.0 / den
    c = x - mean
    xhat = c * inv
    y = xhat * g + b
    new_m = momentum * run_m + (1.0 - momentum) * mean
    new_s = momentum * run_s + (1.0 - momentum) * inv
    cache = RangeBNCache(variant, True, _per_channel(mean, ax), np.reshape(spread, ax.channel), K,
                         _per_channel(inv, ax), _per_channel(new_m, ax), _per_channel(new_s, ax),
                         xhat, chunks, ax, g, c, amax, amin, moved_shape)
    return y, cache


def range_bn_backward(dy, cache: RangeBNCache):
    """Gradients of :func:`range_bn`: ``(dx, dgamma, dbeta)`` given ``dy``.

    ``dgamma = sum(dy * xhat)``, ``dbeta = sum(dy)`` over the reduced axes.
    With ``dxhat = dy * gamma``, ``c = x - mean``, ``inv = 1/(K R + eps)``:

    ``dx = dxhat*inv - mean(dxhat*inv) - K inv**2 sum(dxhat*c) * dR/dx``

    (the second term is the path through the mean).  ``dR/dx`` is the
    subgradient of the range: ``e_argmax - e_argmin`` (paper), and
    ``(1/num_chunks) * sum_j (e_argmax_j - e_argmin_j)`` over the chunks
    (code).  Ties: the whole subgradient goes to ONE element, the first
    maximum (minimum) in C order of the channel's (chunk's) values, as
    ``numpy.argmax`` picks it; a constant chunk puts both on the same element,
    which cancels.  (Autograd frameworks may pick another of the tied
    elements.)  The mean cancels out of ``range(x - mean)``.  In inference
    (``training=False``) the statistics are constants: ``dx = dxhat * inv``.
    float64 numpy.
    """
    name = "range_bn_backward"
    ax = cache._ax
    dy = _finite(dy, name, "dy")
    if dy.shape != cache.xhat.shape:
        raise ValueError(f"{name}: dy of shape {dy.shape} does not match x's {cache.xhat.shape}")
    dgamma = np.sum(dy * cache.xhat, axis=ax.reduced).reshape(ax.channel)
    dbeta = np.sum(dy, axis=ax.reduced).reshape(ax.channel)
    dxhat = dy * cache._gamma
    inv = cache.inv_scale.reshape(ax.keep)
    if not cache.training:
        return dxhat * inv, dgamma, dbeta
    dc = dxhat * inv
    dx = dc - np.mean(dc, axis=ax.reduced, keepdims=True)
    dR = -cache.scale_fix * inv * inv * np.sum(dxhat * cache._c, axis=ax.reduced, keepdims=True)
    chunks = cache.num_chunks
    size = ax.n // chunks
    shape = ax.channel + (chunks, size)
    up = np.zeros(shape)
    down = np.zeros(shape)
    np.put_along_axis(up, cache._argmax[..., None], 1.0, -1)
    np.put_along_axis(down, cache._argmin[..., None], 1.0, -1)
    dRdx = (up - down).reshape(ax.channel + (ax.n,)) / chunks
    dx = dx + dR * _channels_back(dRdx, cache._moved_shape, ax, dy.ndim)
    return dx, dgamma, dbeta


# ---------------------------------------------------------------- Graham BN
@dataclass(frozen=True, eq=False)
class GrahamBNCache:
    """What :func:`graham_bn` computed.  ``z``: the float64 normalized value;
    ``z_q``: ``z`` rounded into ``fmt`` (float64 values), ``codes``: its bit
    patterns (what is stored); ``bits_per_activation``: ``fmt.width``, the
    memory per stored activation; ``memory_bits``: for the whole tensor."""
    fmt: object
    rounding: str
    training: bool
    mean: np.ndarray
    var: np.ndarray
    z: np.ndarray = field(repr=False)
    z_q: np.ndarray = field(repr=False)
    codes: np.ndarray = field(repr=False)
    bits_per_activation: int = 0
    memory_bits: int = 0
    _ax: _Axes = field(default=None, repr=False)
    _gamma: np.ndarray = field(default=None, repr=False)
    _sigma: np.ndarray = field(default=None, repr=False)


def graham_bn(x, fmt, gamma=1.0, beta=0.0, *, axis=None, eps=1e-5, rounding="nearest_even",
              overflow=None, rng=None, random=None, random_bits=32, mean=None, var=None):
    """Graham's batch norm with a low-precision normalized activation.
    Returns ``(y, cache)``.

    ``z = (x - mean) / sqrt(var + eps)`` (per channel over ``axis``;
    ``var = mean((x - mean)**2)``, the biased batch variance; float64), then
    ``z_q = fxsim.quantize(z, fmt, rounding, overflow, ...)`` -- one rounding
    by fxsim's core into any format: a k-bit fixed format (its range is the
    clip range; fixed formats saturate by default) or a low float -- and
    ``y = gamma * z_q + beta`` (float64).  ``rng``/``random``/``random_bits``
    feed the stochastic modes, as in :func:`fxsim.encode`.  Memory per
    activation: ``cache.bits_per_activation = fmt.width`` bits (the stored
    ``z_q``; the float ``x`` need not be kept).  The error the format adds
    is ``cache.z_q - cache.z``.

    Inference: give ``mean`` and ``var`` (channel shape or broadcastable);
    they are then constants.
    """
    name = "graham_bn"
    fmt = _formats.format(fmt)
    x, ax, g, b, eps = _bn_inputs(x, axis, gamma, beta, eps, name)
    if (mean is None) != (var is None):
        raise ValueError(f"{name}: give both mean and var (inference) or neither (training)")
    training = mean is None
    if training:
        mu = np.mean(x, axis=ax.reduced, keepdims=True)
        c = x - mu
        v = np.mean(c * c, axis=ax.reduced, keepdims=True)
    else:
        mu = _param(mean, ax, name, "mean")
        v = _param(var, ax, name, "var")
        c = x - mu
    _check_denominator(v + eps, ax, name, "var + eps")
    sigma = np.sqrt(v + eps)
    z = c / sigma
    codes = _codec.encode(z, fmt, rounding, overflow, rng=rng, random=random,
                          random_bits=random_bits)
    z_q = np.asarray(_codec.decode(codes, fmt), dtype=np.float64)
    y = g * z_q + b
    cache = GrahamBNCache(fmt, str(rounding), training, _per_channel(mu, ax),
                          _per_channel(v, ax), z, z_q, codes, fmt.width, fmt.width * z.size,
                          ax, g, sigma)
    return y, cache


def graham_bn_backward(dy, cache: GrahamBNCache):
    """Gradients of :func:`graham_bn`: ``(dx, dgamma, dbeta)`` given ``dy``.

    Only the stored ``z_q`` is used -- the point of Graham's scheme -- with a
    straight-through quantizer (``dz_q/dz = 1`` everywhere, also where the
    format saturated):

    ``dgamma = sum(dy * z_q)``, ``dbeta = sum(dy)``, ``dz = dy * gamma``,
    ``dx = (dz - mean(dz) - z_q * mean(dz * z_q)) / sqrt(var + eps)``,

    the exact batch-norm gradient with ``z_q`` in place of ``z`` (exact when
    the format holds ``z``, e.g. ``fmt="float64"``).  In inference the
    statistics are constants: ``dx = dz / sqrt(var + eps)``.  float64 numpy.
    """
    name = "graham_bn_backward"
    ax = cache._ax
    dy = _finite(dy, name, "dy")
    if dy.shape != cache.z_q.shape:
        raise ValueError(f"{name}: dy of shape {dy.shape} does not match x's {cache.z_q.shape}")
    zq = cache.z_q
    dgamma = np.sum(dy * zq, axis=ax.reduced).reshape(ax.channel)
    dbeta = np.sum(dy, axis=ax.reduced).reshape(ax.channel)
    dz = dy * cache._gamma
    if not cache.training:
        return dz / cache._sigma, dgamma, dbeta
    dx = (dz - np.mean(dz, axis=ax.reduced, keepdims=True)
          - zq * np.mean(dz * zq, axis=ax.reduced, keepdims=True)) / cache._sigma
    return dx, dgamma, dbeta
