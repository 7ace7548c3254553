"""Compare a golden array of codes with a device's: which elements differ,
in which bits and fields, and how many ULPs apart.

:func:`diff` returns a :class:`DiffReport` (printable as a table) holding
the count of mismatches and the first few as :class:`Mismatch` records;
:func:`ulp_key` is the monotone integer position of a code among its
format's values that the ULP distances are measured in.  Reading and
writing the codes is :mod:`fxsim.io`'s job (which re-exports these names).
"""
from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np

from . import exact
from . import formats as _formats
from .array import QArray
from .codec import decode

__all__ = ["DiffReport", "Mismatch", "diff", "ulp_key"]


@dataclasses.dataclass(frozen=True)
class Mismatch:
    """One differing element.

    ``golden_value``/``dut_value`` are exact (``Fraction``, or float NaN/inf;
    the sign of a zero is not kept); ``golden_float``/``dut_float`` the
    float64 values (with the sign of zero).  ``bits`` lists the differing
    bit positions (0 = least significant), ``fields`` the fields they fall
    in: ``sign``/``exponent``/``mantissa`` for floats, ``sign``/``integer``/
    ``fraction`` for fixed point.  ``ulps`` is ``key(dut) - key(golden)``
    (see :func:`ulp_key`), None when either is NaN.

    A DUT code with unknown (``x``/``z``) bits: ``fields`` is ``("unknown",)``,
    ``dut`` shows an ``x`` for each hex digit holding an unknown bit,
    ``dut_code`` holds the known bits (unknown ones as 0), ``bits`` the
    unknown bit positions and those known bits that differ,
    ``dut_value``/``dut_float``/``ulps`` are None.
    """

    index: tuple
    golden: str
    dut: str
    golden_code: int
    dut_code: int
    golden_value: object
    dut_value: object
    golden_float: float
    dut_float: float
    bits: tuple
    fields: tuple
    ulps: int | None


@dataclasses.dataclass(frozen=True)
class DiffReport:
    """What :func:`diff` found: ``mismatches`` of ``total`` elements differ;
    ``first`` holds the first ``limit`` of them in flat (row-major) order;
    ``unknown`` counts the mismatches that are DUT codes with x/z bits."""

    fmt: object
    shape: tuple
    total: int
    mismatches: int
    first: tuple
    unknown: int = 0

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def __str__(self) -> str:
        head = f"diff in {self.fmt.name}, shape {self.shape}: {self.mismatches} of {self.total} differ"
        if self.unknown:
            head += f" ({self.unknown} of them DUT codes with x/z bits: field 'unknown')"
        if self.ok:
            return head + " (ok)"
        rows = [("index", "golden", "dut", "golden value", "dut value", "ulps", "fields", "bits")]
        for m in self.first:
            rows.append((str(m.index), m.golden, m.dut, _show(m.golden_value, m.golden_float),
                         "x" if m.dut_value is None else _show(m.dut_value, m.dut_float),
                         "-" if m.ulps is None else f"{m.ulps:+d}", ",".join(m.fields),
                         ",".join(map(str, m.bits))))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [head] + ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        if self.mismatches > len(self.first):
            lines.append(f"... {self.mismatches - len(self.first)} more")
        return "\n".join(lines)


def _show(value, as_float) -> str:
    if value == 0:
        return repr(as_float) if as_float == 0 else "0"
    if isinstance(value, Fraction):
        text = str(value)
        if value.denominator != 1 and len(text) <= 24:
            return f"{text} ({float(value):.6g})"
        return text if len(text) <= 24 else f"{float(value):.17g}"
    return str(value)


def ulp_key(code: int, fmt):
    """A monotone integer position of ``code`` among the values of ``fmt``
    (None for NaN).

    Fixed point: the signed integer the code holds.  Floats: the magnitude
    bits (sign-magnitude), negated for negative codes, so +0 and -0 share key
    0 and neighbouring finite values differ by 1; an infinity is one step
    beyond the largest finite value.  Without subnormals, every code with a
    zero exponent field reads as zero and shares key 0; the normal codes are
    renumbered to follow it.  E8M0 (unsigned): the code itself.
    """
    code = int(code)
    if not fmt.is_float:
        return code - (1 << fmt.width) if fmt.signed and code >> (fmt.width - 1) else code
    value = exact.code_value(code, fmt)
    if isinstance(value, float) and math.isnan(value):
        return None
    if not fmt.signed:
        return code
    sign_bit = 1 << (fmt.width - 1)
    mag = code & (sign_bit - 1)
    if not fmt.subnormals:
        mag = 0 if mag >> fmt.man == 0 else mag - ((1 << fmt.man) - 1)
    return -mag if code & sign_bit else mag


def _hex(code: int, fmt) -> str:
    """The code as zero-padded lower-case hex (``ceil(width/4)`` digits, as in a memh file)."""
    return f"{code:0{max(1, -(-fmt.width // 4))}x}"


def _field_of(bit: int, fmt) -> str:
    if fmt.signed and bit == fmt.width - 1:
        return "sign"
    if fmt.is_float:
        return "mantissa" if bit < fmt.man else "exponent"
    return "fraction" if bit < fmt.frac else "integer"


def _hex_unknown(code: int, unknown: int, fmt) -> str:
    """The code in hex with ``x`` for every digit holding an unknown bit."""
    digits = max(1, -(-fmt.width // 4))
    return "".join("x" if unknown >> (4 * d) & 15 else f"{code >> (4 * d) & 15:x}"
                   for d in range(digits - 1, -1, -1))


def diff(golden, dut, fmt=None, *, limit=10, unknown=None) -> DiffReport:
    """Compare two arrays of codes: QArrays, or integer codes with ``fmt``.

    Shapes (and formats) must match.  Returns a :class:`DiffReport` with the
    count of mismatches and the first ``limit`` of them (index, both codes in
    padded hex, exact and float values, differing bit positions and fields,
    distance in ULPs).

    ``unknown``: per DUT code, the bits that were ``x``/``z`` in the device's
    file (what ``fxsim.io.read_memh(..., with_unknown=True)`` returns); a
    code with any unknown bit is a mismatch (field ``"unknown"``)."""
    fmts = {q.fmt for q in (golden, dut) if isinstance(q, QArray)}
    if fmt is not None:
        fmts.add(_formats.format(fmt))
    if not fmts:
        raise ValueError("diff: give fmt= for raw integer codes (or pass QArrays)")
    if len(fmts) > 1:
        raise ValueError(f"diff: formats differ: {', '.join(sorted(f.name for f in fmts))}")
    fmt = fmts.pop()
    g = golden if isinstance(golden, QArray) else QArray(golden, fmt)
    d = dut if isinstance(dut, QArray) else QArray(dut, fmt)
    if g.shape != d.shape:
        raise ValueError(f"diff: shapes differ: golden {g.shape}, dut {d.shape} (format {fmt.name})")
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0:
        raise ValueError(f"diff: limit must be a non-negative integer, got {limit!r}")
    gf, df = g.bits.reshape(-1), d.bits.reshape(-1)
    uf = _unknown_bits(unknown, g.shape, fmt)
    where = np.flatnonzero(gf != df) if gf.dtype != object else \
        np.array([i for i, (a, b) in enumerate(zip(gf.tolist(), df.tolist())) if a != b], dtype=np.int64)
    n_unknown = 0
    if uf is not None:
        is_unknown = uf != 0 if uf.dtype != object else \
            np.array([int(u) != 0 for u in uf.tolist()], dtype=bool)
        n_unknown = int(np.count_nonzero(is_unknown))
        if n_unknown:
            hit = np.zeros(gf.size, dtype=bool)
            hit[where] = True
            where = np.flatnonzero(hit | is_unknown)
    first = []
    for i in where[:limit].tolist():
        a, b = int(gf[i]), int(df[i])
        u = 0 if uf is None else int(uf[i])
        index = tuple(int(j) for j in np.unravel_index(i, g.shape)) if g.shape else ()
        if u:
            known = (a ^ b) & ~u
            bits = tuple(k for k in range(fmt.width) if (known | u) >> k & 1)
            fa = float(decode(np.array([a], dtype=object if fmt.width > 64 else np.uint64), fmt)[0])
            first.append(Mismatch(index, _hex(a, fmt), _hex_unknown(b, u, fmt), a, b,
                                  exact.code_value(a, fmt), None, fa, None, bits, ("unknown",), None))
            continue
        bits = tuple(k for k in range(fmt.width) if (a ^ b) >> k & 1)
        fields = tuple(f for f in ("sign", "exponent", "mantissa", "integer", "fraction")
                       if any(_field_of(k, fmt) == f for k in bits))
        ka, kb = ulp_key(a, fmt), ulp_key(b, fmt)
        va, vb = exact.code_value(a, fmt), exact.code_value(b, fmt)
        fa, fb = (float(x) for x in decode(np.array([a, b], dtype=object if fmt.width > 64 else np.uint64), fmt))
        first.append(Mismatch(index, _hex(a, fmt), _hex(b, fmt), a, b, va, vb, fa, fb, bits, fields,
                              None if ka is None or kb is None else kb - ka))
    return DiffReport(fmt, g.shape, int(g.bits.size), int(where.size), tuple(first), n_unknown)


def _unknown_bits(unknown, shape, fmt):
    """The flat unknown-bit masks (None when there are none), checked."""
    if unknown is None:
        return None
    arr = np.asarray(unknown)
    if arr.shape != shape and arr.size == math.prod(shape):
        arr = arr.reshape(shape)
    if arr.shape != shape:
        raise ValueError(f"diff: unknown= has shape {arr.shape}, the codes {shape} (format {fmt.name})")
    flat = check = arr.reshape(-1)
    offset = 0
    if arr.dtype.kind in "iu" and fmt.width <= 62:
        bad = np.flatnonzero((flat < 0) | (flat >= (1 << fmt.width)))
        if not bad.size:
            return flat
        offset = int(bad[0])
        check = flat[offset:offset + 1]
    for i, v in enumerate(check.tolist(), start=offset):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < (1 << fmt.width):
            index = tuple(int(j) for j in np.unravel_index(i, shape))
            raise ValueError(f"diff: unknown= value {v!r} at index {index} is "
                             f"not a bit mask of a {fmt.width}-bit code (format {fmt.name})")
    return flat
