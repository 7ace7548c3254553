"""Shapes of a 2-d convolution, checked once for binary.conv2d and linalg.conv2d."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


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
