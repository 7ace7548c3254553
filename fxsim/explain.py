"""Teaching views: the fields of a code, a table of a format, and a rounding
shown step by step.

Everything here is computed on the exact path (Python ints and Fractions),
with the same rounding core as every other result; nothing is re-derived.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ._kernels import core
from . import codec, exact
from . import formats as _formats
from .modes import Overflow, Rounding


@dataclass(frozen=True)
class Fields:
    """A code taken apart: ``kind`` is zero, subnormal, normal, inf, nan (floats)
    or fixed; ``text`` shows the bits grouped by field."""

    code: int
    kind: str
    text: str
    value: object  # Fraction, or float nan/inf


def _bits(value: int, width: int) -> str:
    return format(value, f"0{width}b") if width else ""


def fields(code: int, fmt) -> Fields:
    """The fields of ``code`` in ``fmt``: sign | exponent | fraction for
    floats, the two's complement bits with the binary point for fixed."""
    fmt = _formats.format(fmt)
    code = int(code)
    if not 0 <= code < (1 << fmt.width):
        raise ValueError(f"code {code} does not fit format {fmt.name} ({fmt.width} bits)")
    value = exact.code_value(code, fmt)
    if not fmt.is_float:
        bits = _bits(code, fmt.word)
        f = fmt.frac
        if 0 < f < fmt.word:
            text = bits[:-f] + "." + bits[-f:]
        elif f <= 0:
            text = bits + "0" * (-f) + "."
        else:
            text = "." + "s" * (f - fmt.word) + bits if fmt.signed else "." + "0" * (f - fmt.word) + bits
            text += "  (s = copies of the sign bit)" if fmt.signed and f > fmt.word else ""
        return Fields(code, "fixed", text, value)
    neg, M, E, cls = core.split_code(code, fmt.exact_spec)
    man = fmt.man
    sign = code >> (fmt.width - 1) if fmt.signed else None
    efield = (code >> man) & ((1 << fmt.exp) - 1)
    mfield = code & ((1 << man) - 1)
    parts = ([str(sign)] if sign is not None else []) + [_bits(efield, fmt.exp)]
    if man:
        parts.append(_bits(mfield, man))
    if cls == core.NAN_CLASS:
        kind = "nan"
    elif cls == core.INF:
        kind = "inf"
    elif M == 0:
        kind = "zero"
    elif efield == 0 and fmt.special != "e8m0":
        kind = "subnormal"
    else:
        kind = "normal"
    return Fields(code, kind, " ".join(parts), value)


def _show(value) -> str:
    if isinstance(value, float):
        return repr(value)
    if value.denominator == 1:
        return str(value.numerator)
    as_float = float(value)
    shown = repr(as_float) if Fraction(as_float) == value else f"~{as_float!r}"
    return f"{value} ({shown})"


def table(fmt) -> str:
    """Every code of a format of at most 12 bits: bits, hex, value, class."""
    fmt = _formats.format(fmt)
    if fmt.width > 12:
        raise ValueError(f"format {fmt.name} has {fmt.width}-bit codes; a table lists at most 12-bit formats")
    digits = (fmt.width + 3) // 4
    lines = [f"{fmt.name}: {fmt!r}, {fmt.width} bits, {1 << fmt.width} codes",
             f"{'bits':>{fmt.width + 3}}  {'hex':>{digits + 2}}  {'class':9}  value"]
    for code in range(1 << fmt.width):
        view = fields(code, fmt)
        lines.append(f"{view.text:>{fmt.width + 3}}  0x{code:0{digits}x}  {view.kind:9}  {_show(view.value)}")
    return "\n".join(lines)


def explain(value, fmt, rounding="nearest_even", overflow=None, *, r=None, random_bits=32) -> str:
    """Show how ``value`` is rounded into ``fmt``: the exact value, the two
    neighbouring codes, the distance to each, the mode's decision, the code.
    ``r`` is the random integer a stochastic mode uses."""
    fmt = _formats.format(fmt)
    rounding, overflow = codec.resolve_modes(fmt, rounding, overflow)
    if isinstance(value, str):
        value = exact.parse_number(value)
    neg, M, E, cls, rational = exact.exact_value(value)
    random = None
    if rounding.is_stochastic:
        if r is None:
            raise ValueError(f"explain: rounding={rounding.value} needs the random integer r "
                             f"(format {fmt.name})")
        random = [int(r)]
    lines = [f"format     {fmt.name}: {fmt!r}, {fmt.width}-bit codes",
             f"rounding   {rounding.value}, overflow {overflow.value}"]
    if cls != core.FINITE:
        lines.append(f"input      {value!r} (not a finite number)")
    else:
        lines.append(f"input      {_show(rational)}")
        lo, hi = _neighbours(rational, fmt)
        if lo == hi:
            lines.append("on grid    the value is exactly on the format's grid")
        else:
            for name, v in (("below", lo), ("above", hi)):
                gap = _show(abs(rational - v))
                if fmt.min_exact <= v <= fmt.max_exact:
                    code = int(exact.encode_values([v], fmt, Rounding.NEAREST_EVEN,
                                                  Overflow.SATURATE, [], 1, ())[0])
                    view = fields(code, fmt)
                    lines.append(f"{name:10} 0x{code:x} = {view.text} = {_show(v)}  (distance {gap})")
                else:
                    lines.append(f"{name:10} {_show(v)}: outside the finite range "
                                 f"[{_show(fmt.min_exact)}, {_show(fmt.max_exact)}]  (distance {gap})")
            t = (rational - lo) / (hi - lo)
            where = "a tie" if t == Fraction(1, 2) else "nearer " + ("below" if t < Fraction(1, 2) else "above")
            lines.append(f"position   {_show(t)} of an ulp above 'below' ({where})")
        if not fmt.min_exact <= rational <= fmt.max_exact:
            lines.append(f"overflow   the value is outside [{_show(fmt.min_exact)}, "
                         f"{_show(fmt.max_exact)}]: overflow={overflow.value} decides")
    try:
        code = exact.encode_values([value], fmt, rounding, overflow, random or [], random_bits, ())[0]
    except (ValueError, OverflowError) as err:
        lines.append(f"result     error: {err}")
        return "\n".join(lines)
    view = fields(int(code), fmt)
    lines.append(f"result     0x{int(code):x} = {view.text} = {_show(view.value)} ({view.kind})")
    lines.append(f"why        {_REASONS[rounding]}")
    return "\n".join(lines)


_REASONS = {
    Rounding.NEAREST_EVEN: "nearest; a tie goes to the even significand",
    Rounding.NEAREST_ODD: "nearest; a tie goes to the odd significand",
    Rounding.NEAREST_AWAY: "nearest; a tie goes away from zero",
    Rounding.NEAREST_ZERO: "nearest; a tie goes toward zero",
    Rounding.NEAREST_UP: "nearest; a tie goes toward +inf",
    Rounding.NEAREST_DOWN: "nearest; a tie goes toward -inf",
    Rounding.DOWN: "toward -inf (floor)",
    Rounding.UP: "toward +inf (ceiling)",
    Rounding.TOWARD_ZERO: "the magnitude is truncated",
    Rounding.AWAY: "away from zero when inexact",
    Rounding.ODD: "round to odd: if inexact, the neighbour with an odd last bit",
    Rounding.JAM: "von Neumann: truncate, then force the last bit to 1",
    Rounding.STOCHASTIC: "up iff floor(f * 2**R) + r >= 2**R (f: fraction of an ulp)",
    Rounding.STOCHASTIC_EQUAL: "up iff inexact and r >= 2**(R-1)",
}


def _neighbours(rational: Fraction, fmt):
    """The grid points just below and above ``rational`` (equal if on the
    grid), on the format's grid extended beyond its range: a wider twin of
    the format with the same grid is rounded into, down and up."""
    if fmt.is_float:
        exp = min(fmt.exp + 2, 63 - fmt.man)
        special = "e8m0" if fmt.special == "e8m0" else "ieee"
        twin = _formats.FloatFormat(exp, fmt.man, bias=fmt.bias, subnormals=fmt.subnormals,
                                    special=special)
    else:
        size = abs(rational) * Fraction(2) ** fmt.frac
        twin = _formats.FixedFormat(max(fmt.word, int(size).bit_length()) + 2, fmt.frac)
    ends = []
    for mode in (Rounding.DOWN, Rounding.UP):
        code = exact.encode_values([rational], twin, mode, Overflow.SATURATE, [], 1, ())[0]
        ends.append(exact.code_value(int(code), twin))
    return ends[0], ends[1]
