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


_TIE_RULE = {
    Rounding.NEAREST_EVEN: ("tie -> even", "the neighbour whose last significand bit is 0"),
    Rounding.NEAREST_ODD: ("tie -> odd", "the neighbour whose last significand bit is 1"),
    Rounding.NEAREST_AWAY: ("tie -> away", "the neighbour farther from zero"),
    Rounding.NEAREST_ZERO: ("tie -> zero", "the neighbour nearer to zero"),
    Rounding.NEAREST_UP: ("tie -> +inf", "the neighbour above"),
    Rounding.NEAREST_DOWN: ("tie -> -inf", "the neighbour below"),
}
_DIRECTED = {
    Rounding.DOWN: "toward -inf (floor): always the neighbour below",
    Rounding.UP: "toward +inf (ceiling): always the neighbour above",
    Rounding.TOWARD_ZERO: "toward zero: the neighbour of smaller magnitude",
    Rounding.AWAY: "away from zero: the neighbour of larger magnitude",
    Rounding.ODD: "round to odd: the value is inexact, so the neighbour whose last bit is 1",
}


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` found, field by field (``text`` is what it prints).

    ``code`` is fxsim.encode's code (None when encode raised: ``error``);
    ``below``/``above`` the neighbours on the format's grid extended beyond
    its range (equal when the value is on the grid); ``position`` where the
    value lies between them (0 = below, 1 = above); ``tie`` whether it is
    half-way; ``unbounded`` the value rounded as if the range were unbounded
    (the same mode and ``r``); ``chosen`` which neighbour that is (``exact``,
    ``below``, ``above``, or ``other`` for jam); ``overflowed`` whether
    ``unbounded`` lies outside the format's range (the overflow policy then
    produced ``code``).  Stochastic modes: ``p_up`` (exact probability of
    rounding to ``up``, the neighbour the mode rounds "up" to), ``threshold``
    (``r >= threshold`` rounds up) and ``predicted`` (the neighbour the rule
    picks for the ``r`` given)."""

    fmt: object
    rounding: Rounding
    overflow: Overflow
    value: object
    code: int | None
    error: str | None
    below: Fraction | None = None
    above: Fraction | None = None
    position: Fraction | None = None
    tie: bool = False
    unbounded: Fraction | None = None
    chosen: str | None = None
    overflowed: bool = False
    up: str | None = None
    p_up: Fraction | None = None
    threshold: int | None = None
    predicted: str | None = None
    text: str = ""


def _check_random(rounding, r, random_bits, fmt):
    if isinstance(random_bits, bool) or not isinstance(random_bits, int) or not 1 <= random_bits <= 64:
        raise ValueError(f"explain: random_bits (--random-bits) must be a whole number from 1 to 64, "
                         f"got {random_bits!r} (format {fmt.name}, rounding {rounding.value})")
    if not rounding.is_stochastic:
        if r is not None:
            raise ValueError(f"explain: r (--r) is the random integer of the stochastic modes; "
                             f"rounding {rounding.value} uses none (format {fmt.name})")
        return None
    if r is None:
        raise ValueError(f"explain: rounding={rounding.value} needs the random integer r (--r), "
                         f"in [0, 2**{random_bits}) (format {fmt.name})")
    if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < (1 << random_bits):
        raise ValueError(f"explain: r (--r) = {r!r} is not in [0, 2**{random_bits}) = "
                         f"[0, {(1 << random_bits) - 1}] for random_bits (--random-bits) "
                         f"{random_bits} (format {fmt.name}, rounding {rounding.value})")
    return int(r)


def _result_text(code, fmt):
    view = fields(code, fmt)
    kind = view.kind
    if kind == "zero" and fmt.signed and fmt.is_float and code >> (fmt.width - 1):
        kind = "zero, negative: the sign is kept"
    return f"0x{code:x} = {view.text} = {_show(view.value)} ({kind})"


def _stochastic(rounding, r, R, t, neg, fmt):
    """(up name, p_up, threshold, predicted) of a stochastic mode."""
    away_is_below = fmt.is_float and neg     # floats round the magnitude; fixed point toward +inf
    up = "below" if away_is_below else "above"
    other = "above" if up == "below" else "below"
    if rounding is Rounding.STOCHASTIC:
        f = (1 - t) if away_is_below else t  # fraction of an ulp toward 'up'
        floor_f = (f.numerator << R) // f.denominator
        p_up, threshold = Fraction(floor_f, 1 << R), (1 << R) - floor_f
    else:
        p_up, threshold = Fraction(1, 2), 1 << (R - 1)
    return up, p_up, threshold, (up if r >= threshold else other)


def explain_value(value, fmt, rounding="nearest_even", overflow=None, *, r=None,
                  random_bits=32) -> Explanation:
    """The facts behind :func:`explain`, as an :class:`Explanation`.

    The result is ``fxsim.encode(value, fmt, rounding, overflow,
    random=r, random_bits=random_bits)`` -- the same call, so the two never
    disagree; the statements (neighbours, tie, overflow) are derived from
    exact arithmetic on the value and the code encode returned."""
    fmt = _formats.format(fmt)
    rounding, overflow = codec.resolve_modes(fmt, rounding, overflow)
    if isinstance(value, str):
        value = exact.parse_number(value)
    r = _check_random(rounding, r, random_bits, fmt)
    neg, _, _, cls, rational = exact.exact_value(value)
    lines = [f"format     {fmt.name}: {fmt!r}, {fmt.width}-bit codes",
             f"rounding   {rounding.value}, overflow {overflow.value}"
             + (f", r = {r} of {random_bits} random bits" if r is not None else "")]
    facts = {}
    code = error = None
    try:
        code = int(codec.encode(value, fmt, rounding, overflow,
                                random=None if r is None else r, random_bits=random_bits))
    except (ValueError, OverflowError) as err:
        error = str(err)
    if cls != core.FINITE:
        what = "NaN (not a number)" if cls == core.NAN_CLASS else ("-inf" if neg else "+inf")
        lines.append(f"input      {what}: nothing to round")
        if code is not None:
            kind = fields(code, fmt).kind
            if cls == core.NAN_CLASS:
                why = "NaN stays NaN" if kind == "nan" else f"{fmt.name} has no NaN"
            elif kind == "inf":
                why = "an infinity stays an infinity"
            else:
                why = f"{fmt.name} has no infinity: overflow={overflow.value} gives {kind}"
            lines.append(f"why        {why}")
    else:
        zero_sign = " (negative zero)" if rational == 0 and neg else ""
        lines.append(f"input      {_show(rational)}{zero_sign}")
        lo, hi = _neighbours(rational, fmt)
        facts.update(below=lo, above=hi)
        unbounded = _unbounded(value, rational, fmt, rounding, r, random_bits)
        if lo == hi == rational:
            lines.append("on grid    the value is exactly on the format's grid")
            chosen = "exact" if unbounded == rational else "other"
        elif lo == hi:  # beyond what a wider twin of the format reaches (e8m0's bottom, float64's top)
            high = abs(rational) > fmt.max_exact
            lines.append(f"beyond     the value lies {'above' if high else 'below'} every value "
                         f"{fmt.name} has and beyond the reach of its extended grid; no neighbours "
                         "to show")
            chosen, unbounded = "beyond", None
        else:
            for name, v in (("below", lo), ("above", hi)):
                gap = _show(abs(rational - v))
                if fmt.min_exact <= v <= fmt.max_exact:
                    shown = _result_text(_code_of(v, neg, fmt), fmt)
                    lines.append(f"{name:10} {shown}  (distance {gap})")
                else:
                    lines.append(f"{name:10} {_show(v)}: outside the finite range "
                                 f"[{_show(fmt.min_exact)}, {_show(fmt.max_exact)}]  (distance {gap})")
            t = (rational - lo) / (hi - lo)
            tie = t == Fraction(1, 2)
            where = "a tie: exactly half-way" if tie else \
                "nearer below" if t < Fraction(1, 2) else "nearer above"
            lines.append(f"position   {_show(t)} of an ulp above 'below' ({where})")
            chosen = "below" if unbounded == lo else "above" if unbounded == hi else "other"
            facts.update(position=t, tie=tie)
        facts.update(unbounded=unbounded, chosen=chosen)
        lines.append("why        " + _why(rounding, facts, r, random_bits, neg, fmt))
        lo_ok, hi_ok = fmt.min_exact, fmt.max_exact
        if unbounded is None:  # beyond: both neighbours lie where the value lies
            overflowed = not lo_ok <= rational <= hi_ok and abs(rational) > fmt.max_exact or (
                not fmt.signed and rational < 0)
        elif fmt.is_float and not fmt.signed and rational < 0:
            overflowed = True  # an unsigned float takes no negative value, not even one rounding to 0
        else:
            overflowed = not lo_ok <= unbounded <= hi_ok
        facts["overflowed"] = overflowed
        if overflowed:
            lines.append("overflow   " + _overflow_text(rational if unbounded is None else unbounded,
                                                        fmt, overflow, code, unbounded is None))
        elif unbounded is None:
            got = "an error" if code is None else _result_text(code, fmt)
            lines.append(f"range      {_show(rational)} lies below the smallest value "
                         f"{_show(lo_ok)} of {fmt.name} (no zero): the result is {got}")
        elif not lo_ok <= rational <= hi_ok:
            lines.append(f"range      {_show(rational)} lies outside [{_show(lo_ok)}, {_show(hi_ok)}] "
                         f"but rounds to {_show(unbounded)}, in range: no overflow")
    if code is None:
        lines.append(f"result     error: {error}")
    else:
        lines.append(f"result     {_result_text(code, fmt)}   (= fxsim.encode)")
    return Explanation(fmt, rounding, overflow, value, code, error, text="\n".join(lines), **facts)


def _why(rounding, facts, r, R, neg, fmt):
    chosen = facts["chosen"]
    if rounding is Rounding.JAM:
        return (f"jam (von Neumann): truncate, then set the last bit to 1 (also when exact): "
                f"{_show(facts['unbounded'])}, " + ({"below": "the neighbour below",
                                                      "above": "the neighbour above",
                                                      "exact": "the value itself"}.get(
                                                          chosen, "not a neighbour of the value")))
    if chosen == "exact":
        return "exact: the value is on the grid; nothing to round"
    if chosen == "beyond":
        return f"{rounding.value}: no neighbour of the value is a value of {fmt.name}"
    if rounding.is_stochastic:
        up, p_up, threshold, predicted = _stochastic(rounding, r, R, facts["position"], neg, fmt)
        facts.update(up=up, p_up=p_up, threshold=threshold, predicted=predicted)
        direction = "the magnitude grows" if fmt.is_float else "toward +inf"
        rule = ("floor(f * 2**R) / 2**R, f the fraction of an ulp toward it"
                if rounding is Rounding.STOCHASTIC else "1/2 for every inexact value")
        return (f"{rounding.value}: rounds to '{up}' ({direction}) with probability {rule} = "
                f"{_show(p_up)}; it does iff r >= {threshold} (R = {R}); r = {r} "
                f"{'>=' if r >= threshold else '<'} {threshold}, so '{chosen}'")
    if rounding in _TIE_RULE:
        if facts.get("tie"):
            short, whom = _TIE_RULE[rounding]
            return f"{short}: a tie goes to {whom}: '{chosen}'"
        return f"nearest: '{chosen}' is the nearer neighbour (no tie)"
    return f"{_DIRECTED[rounding]}: '{chosen}'"


def _overflow_text(unbounded, fmt, overflow, code, beyond=False):
    got = "an OverflowError" if code is None else _result_text(code, fmt)
    if beyond:
        return (f"the value and both its neighbours lie outside the finite range "
                f"[{_show(fmt.min_exact)}, {_show(fmt.max_exact)}]: overflow={overflow.value} "
                f"gives {got}")
    if not fmt.signed and unbounded <= 0 and fmt.is_float:
        return (f"the value is negative and {fmt.name} holds no negative values (an unsigned float: "
                f"any negative input, also one that rounds to {_show(unbounded)}): "
                f"overflow={overflow.value} gives {got}")
    if not fmt.signed and unbounded < 0:
        return (f"the value rounds to {_show(unbounded)}, negative, and {fmt.name} holds no negative "
                f"values: overflow={overflow.value} gives {got}")
    if fmt.is_float and 0 < unbounded < fmt.min_exact:
        return (f"the value rounds to {_show(unbounded)}, below the smallest value "
                f"{_show(fmt.min_exact)} of {fmt.name} (no zero): the result is {got}")
    bound = "the finite range" if fmt.is_float else "the range"
    return (f"rounded as if the range were unbounded the value is {_show(unbounded)}, outside "
            f"{bound} [{_show(fmt.min_exact)}, {_show(fmt.max_exact)}]: overflow={overflow.value} "
            f"gives {got}")


def _code_of(v, neg, fmt):
    """The code of the grid value ``v`` (a zero takes the input's sign)."""
    x = -0.0 if v == 0 and neg else v
    return int(exact.encode_values([x], fmt, Rounding.NEAREST_EVEN, Overflow.SATURATE, [], 1, ())[0])


def _unbounded(value, rational, fmt, rounding, r, R):
    """``value`` rounded by the mode (and ``r``) on the grid of ``fmt``
    extended beyond its range (the twin of :func:`_neighbours`)."""
    twin = _twin(rational, fmt)
    code = exact.encode_values([value], twin, rounding, Overflow.SATURATE,
                               [] if r is None else [r], R, ())[0]
    return exact.code_value(int(code), twin)


def explain(value, fmt, rounding="nearest_even", overflow=None, *, r=None, random_bits=32) -> str:
    """Show how ``value`` is rounded into ``fmt``: the exact value, the two
    neighbouring codes, the distance to each, the mode's decision (tie or
    not, which neighbour, and why; for the stochastic modes the probability
    of rounding up and the threshold ``r`` must reach), overflow when it
    happened and what the policy produced, and the code -- fxsim.encode's
    code, from the same call (see :func:`explain_value`).  ``r`` is the
    random integer in ``[0, 2**random_bits)`` a stochastic mode uses."""
    return explain_value(value, fmt, rounding, overflow, r=r, random_bits=random_bits).text


def _twin(rational: Fraction, fmt):
    """A wider twin of ``fmt`` with the same grid (more exponent or integer bits)."""
    if fmt.is_float:
        special = "e8m0" if fmt.special == "e8m0" else "ieee"
        if fmt.exp + 2 <= 63 - fmt.man:
            return _formats.FloatFormat(fmt.exp + 2, fmt.man, bias=fmt.bias,
                                        subnormals=fmt.subnormals, special=special)
        # the exponent field cannot grow (float64): near the top, the range moved up 4x
        # has the same grid there; elsewhere the format itself
        if abs(rational) >= Fraction(2) ** fmt.emax:
            return _formats.FloatFormat(fmt.exp, fmt.man, bias=fmt.bias - 2,
                                        subnormals=fmt.subnormals, special=special)
        return _formats.FloatFormat(fmt.exp, fmt.man, bias=fmt.bias, subnormals=fmt.subnormals,
                                    special=special)
    size = abs(rational) * Fraction(2) ** fmt.frac
    return _formats.FixedFormat(max(fmt.word, int(size).bit_length()) + 2, fmt.frac)


def _neighbours(rational: Fraction, fmt):
    """The grid points just below and above ``rational`` (equal if on the
    grid), on the format's grid extended beyond its range: a wider twin of
    the format with the same grid is rounded into, down and up."""
    twin = _twin(rational, fmt)
    ends = []
    for mode in (Rounding.DOWN, Rounding.UP):
        code = exact.encode_values([rational], twin, mode, Overflow.SATURATE, [], 1, ())[0]
        ends.append(exact.code_value(int(code), twin))
    return ends[0], ends[1]
