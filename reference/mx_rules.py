"""MX block scales under the four scale rules, with exact rationals.

An MX block (OCP Microscaling v1.0) is ``k`` elements ``P_i`` sharing one
power-of-two scale ``X`` (E8M0, ``2**-127 .. 2**127``, code ``log2 X + 127``,
0xFF is NaN); element ``i`` stands for ``X * P_i``.  The rules differ only
in how ``X`` is chosen from ``A``, the largest magnitude in the block:

* ``floor`` (the OCP spec, section 6.3): ``X = 2**(floor(log2 A) - emax)``
  where ``emax`` is the exponent of the element format's largest normal.
* ``ceil`` (torchao's CEIL): ``X = 2**(ceil(log2 A) - emax)``.
* ``even`` (torchao's EVEN): first round ``A`` to ``m`` fraction bits
  (the element's mantissa width), ties away from zero; then ``floor``.
* ``rceil`` (NVIDIA's UE8M0 recipe): ``X`` is the least power of two with
  ``X >= A / max_elem`` (``max_elem`` the element's largest finite value).

Then ``log2 X`` is raised to -127 if below (also when ``A = 0``); above 127
the scale is NaN, except under ``rceil`` where it saturates to ``2**127``.
A block holding NaN or an infinity gets the NaN scale.

Everything here is done on ``Fraction``s with comparisons against powers of
two, so it can be read without knowing any bit trick.
"""

from fractions import Fraction

from .codec import encode, floor_log2, value_of
from .formats import pow2

RULES = ("floor", "ceil", "even", "rceil")


def largest_pow2_at_most(a):
    """The integer k with 2**k <= a < 2**(k+1), for a Fraction a > 0
    (``codec.floor_log2``: a guess from bit lengths, checked both ways here)."""
    k = floor_log2(Fraction(a))
    assert pow2(k) <= a < pow2(k + 1)
    return k


def least_pow2_at_least(a):
    """The integer k with 2**(k-1) < a <= 2**k, for a Fraction a > 0."""
    k = largest_pow2_at_most(a)
    return k if pow2(k) == a else k + 1


def round_fraction_bits_away(a, m):
    """``a > 0`` rounded to ``m`` bits after the leading one, ties away from zero."""
    step = pow2(largest_pow2_at_most(a) - m)
    q, r = divmod(a, step)           # a = q * step + r, 0 <= r < step
    return (q + (1 if 2 * r >= step else 0)) * step


def shared_exponent(values, rule, emax, mbits, max_elem):
    """``log2 X`` of a block (an int), or None for the NaN scale.

    ``values``: the block's numbers (int, Fraction or float; NaN/inf make
    the NaN scale).  ``emax``, ``mbits``, ``max_elem``: the element format's
    largest-normal exponent, fraction bits and largest finite magnitude.
    """
    if rule not in RULES:
        raise ValueError(f"unknown scale rule {rule!r}")
    mags = []
    for v in values:
        _, mag = value_of(v)
        if isinstance(mag, str):
            return None
        mags.append(mag)
    a = max(mags)
    if a == 0:
        return -127
    if rule == "floor":
        k = largest_pow2_at_most(a) - emax
    elif rule == "ceil":
        k = least_pow2_at_least(a) - emax
    elif rule == "even":
        k = largest_pow2_at_most(round_fraction_bits_away(a, mbits)) - emax
    else:
        k = least_pow2_at_least(Fraction(a) / Fraction(max_elem))
        k = min(k, 127)
    k = max(k, -127)
    return None if k > 127 else k


def quantize_block(values, elem_fmt, rule, emax, mbits, max_elem, rounding="nearest_even"):
    """(E8M0 scale code, element codes or None under a NaN scale) of one block.

    Elements: ``V_i / X`` exactly, encoded once into ``elem_fmt`` with
    ``rounding``, saturating to the largest finite value (sec. 6.3 (2)).
    """
    k = shared_exponent(values, rule, emax, mbits, max_elem)
    if k is None:
        return 0xFF, None
    codes = []
    for v in values:
        if isinstance(v, float) and v == 0:
            codes.append(encode(v, elem_fmt, rounding, "saturate"))  # keeps -0.0
        else:
            codes.append(encode(Fraction(v) / pow2(k), elem_fmt, rounding, "saturate"))
    return k + 127, codes
