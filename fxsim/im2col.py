"""Convolution as a matrix product: the geometry of a 2-d convolution
(checked once, for :func:`fxsim.conv2d` and :func:`fxsim.binary.conv2d`)
and the patch extraction (im2col) that turns it into a matmul for
:func:`fxsim.conv2d`.  The binary convolution gathers the same patches of
its packed words straight into the column panels of its popcount product
(``fxsim._kernels.popcount.patch_panels``, same positions and order).

Output position ``(y, x)`` reads input row ``y * sh - ph + ky * dh`` and
column ``x * sw - pw + kx * dw`` for filter tap ``(ky, kx)``; positions
outside the image read the padding value.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Geometry", "geometry", "patches"]


class Geometry(NamedTuple):
    n: int
    c: int      # input channels
    h: int
    w: int
    o: int      # filters
    cg: int     # input channels per group
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    ho: int
    wo: int


def _pair(v, what, name):
    v = (int(v), int(v)) if np.ndim(v) == 0 else tuple(int(t) for t in v)
    if len(v) != 2:
        raise ValueError(f"{name}: {what} must be an int or a pair, got {v}")
    return v


def geometry(name, xshape, wshape, stride, padding, dilation, groups) -> Geometry:
    """Check x (N, C, H, W), w (O, C // groups, kh, kw) and the options;
    the output is (N, O, Ho, Wo), ``Ho = (H + 2*ph - dh*(kh-1) - 1) // sh + 1``."""
    if len(xshape) != 4 or len(wshape) != 4:
        raise ValueError(f"{name}: x must be (N, C, H, W) and w (O, C/groups, kh, kw), "
                         f"got shapes {tuple(xshape)} and {tuple(wshape)}")
    (sh, sw), (ph, pw), (dh, dw) = (_pair(stride, "stride", name), _pair(padding, "padding", name),
                                    _pair(dilation, "dilation", name))
    if min(sh, sw, dh, dw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"{name}: stride and dilation must be >= 1 and padding >= 0, got "
                         f"stride={stride}, dilation={dilation}, padding={padding}")
    n, c, h, w = xshape
    o, cg, kh, kw = wshape
    if groups < 1 or c % groups or o % groups or cg != c // groups:
        raise ValueError(f"{name}: {c} input channels and {o} filters of {cg} channels do not "
                         f"make {groups} groups")
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"{name}: the {kh}x{kw} filter (dilation {dh},{dw}) does not fit the "
                         f"{h}x{w} image padded by {ph},{pw}")
    return Geometry(n, c, h, w, o, cg, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo)


def patches(x, g: Geometry, fill=0, channels_last=False) -> np.ndarray:
    """Pad ``x`` and gather its patches: one row per output position.

    ``x`` holds any elements (a format's codes, packed words): (N, C, H, W),
    or (N, H, W, C) with ``channels_last``; C may be a group's channels.
    ``fill`` is the padding: a scalar, or (channels last) one element per
    channel.  Returns (N, Ho * Wo, C * kh * kw), each row in the reduction
    order of the layout: (c, kh, kw) -- channel slowest, filter column
    fastest -- for channels first, (kh, kw, c) for channels last (the
    filters must be flattened in the same order)."""
    x = np.asarray(x)
    if channels_last:
        n, h, w, c = x.shape
        padded = np.empty((n, h + 2 * g.ph, w + 2 * g.pw, c), x.dtype)
        padded[...] = fill
        padded[:, g.ph:g.ph + h, g.pw:g.pw + w] = x
        cols = np.empty((n, g.ho, g.wo, g.kh, g.kw, c), x.dtype)
    else:
        n, c, h, w = x.shape
        padded = np.empty((n, c, h + 2 * g.ph, w + 2 * g.pw), x.dtype)
        padded[...] = fill
        padded[:, :, g.ph:g.ph + h, g.pw:g.pw + w] = x
        padded = padded.transpose(0, 2, 3, 1)  # a view, channels last
        cols = np.empty((n, g.ho, g.wo, c, g.kh, g.kw), x.dtype)
    for ky in range(g.kh):
        for kx in range(g.kw):
            y0, x0 = ky * g.dh, kx * g.dw
            win = padded[:, y0:y0 + g.sh * (g.ho - 1) + 1:g.sh,
                         x0:x0 + g.sw * (g.wo - 1) + 1:g.sw]          # (N, Ho, Wo, C)
            if channels_last:
                cols[:, :, :, ky, kx] = win
            else:
                cols[..., ky, kx] = win
    return cols.reshape(n, g.ho * g.wo, c * g.kh * g.kw)
