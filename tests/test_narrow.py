"""Narrowed fixed-point formats (``FixedFormat(..., narrow=True)``, ``s8.0n``)
against reference/ (which models the narrowed range on its own), exhaustively
for small words: every input on a fine grid around the range, every rounding
mode, both overflow policies a narrowed format offers; casts of every code;
fixed-point arithmetic into a narrowed format; the exact Python engine.

The contract (see ``fxsim.FixedFormat``): results lie in
``[-(2**(word-1) - 1), 2**(word-1) - 1]``; saturate clamps there, raise
raises, wrap is not offered; the code set is unchanged (the most negative
code still decodes to ``-2**(word-1)``).
"""
from fractions import Fraction

import numpy as np
import pytest

import fxsim
import reference as ref
from oracle import DETERMINISTIC

NARROW = ["s2.0n", "s3.1n", "s4.0n", "s4.2n", "s4.-1n", "s5.7n", "s8.0n", "s8.6n"]
STOCHASTIC = ["stochastic", "stochastic_equal"]


def ref_twin(fmt):
    return ref.FixedFormat(fmt.word, fmt.frac, fmt.signed, narrow=fmt.narrow)


def ref_code(x, fmt, rounding, overflow, r=0, R=32):
    """reference.encode, an OverflowError returned as its class."""
    try:
        return ref.encode(x, ref_twin(fmt), rounding, overflow, r=r, R=R)
    except OverflowError:
        return OverflowError


def grid(fmt, sub=3, beyond=3):
    """Every multiple of ulp / 2**sub from (int_min - 1 - beyond) ulp to
    (int_max + beyond) ulp: ties, near-ties, both ends and past them."""
    lo = (fmt.int_min - 1 - beyond) << sub
    hi = (fmt.int_max + beyond) << sub
    return [Fraction(k, 1 << sub) * Fraction(2) ** -fmt.frac for k in range(lo, hi + 1)]


def check_against_reference(values, xs, fmt, rounding, overflow, **kw):
    """fxsim.encode of ``xs`` (the same numbers as ``values``) against the
    reference, under ``overflow`` ("raise": every overflowing value alone
    raises; the array raises naming the first one; the rest match)."""
    r = kw.pop("r", None)
    R = kw.get("random_bits", 32)
    want = [ref_code(v, fmt, rounding, overflow, 0 if r is None else int(r[i]), R)
            for i, v in enumerate(values)]
    over = np.array([w is OverflowError for w in want])
    if overflow == "saturate":
        assert not over.any()
    if over.any():
        first = int(np.flatnonzero(over)[0])
        with pytest.raises(OverflowError, match=rf"index \({first},\).*{fmt.name}"):
            fxsim.encode(xs, fmt, rounding, overflow, **kw, **({} if r is None else {"random": r}))
        for i in np.flatnonzero(over):
            with pytest.raises(OverflowError):
                fxsim.encode(xs[i:i + 1], fmt, rounding, overflow, **kw,
                             **({} if r is None else {"random": r[i:i + 1]}))
    keep = ~over
    got = fxsim.encode(xs[keep], fmt, rounding, overflow, **kw,
                       **({} if r is None else {"random": r[keep]}))
    assert [int(c) for c in got] == [w for w, k in zip(want, keep) if k]
    return got


# ------------------------------------------------------------------ the format
def test_narrow_int8_range_spec_and_overflow_modes():
    fmt = fxsim.FixedFormat(8, 0, narrow=True)
    assert (fmt.int_min, fmt.int_max, fmt.min, fmt.max) == (-127, 127, -127.0, 127.0)
    assert fmt.min_exact == -127 and fmt.width == 8
    spec = fmt.kernel_spec
    assert (int(spec.pos_limit), int(spec.neg_limit), int(spec.sign_bit)) == (127, 127, 0x80)
    assert fmt.exact_spec.neg_limit == 127
    assert fmt.overflows == (fxsim.Overflow.SATURATE, fxsim.Overflow.RAISE)
    assert fmt.default_overflow == fxsim.Overflow.SATURATE
    assert fmt != fxsim.formats.int8 and len({fmt, fxsim.formats.int8}) == 2
    assert fxsim.FixedFormat(8, 6, narrow=True).min == -127 / 64


@pytest.mark.parametrize("name", NARROW + ["s70.3n", "s16.-4n"])
def test_names_parse_back(name):
    fmt = fxsim.format(name)
    assert fmt.narrow and fmt.name == name and str(fmt) == name
    assert fxsim.format(fmt.name) == fmt
    assert eval(repr(fmt), {"FixedFormat": fxsim.FixedFormat}) == fmt
    assert fxsim.format(name[:-1] + "_narrow") == fmt
    assert fxsim.format(name[:-1]) == fxsim.FixedFormat(fmt.word, fmt.frac)


def test_bad_narrow_formats():
    with pytest.raises(ValueError, match="narrow.*signed=False"):
        fxsim.FixedFormat(8, 0, signed=False, narrow=True)
    with pytest.raises(ValueError, match="narrow.*word=1"):
        fxsim.FixedFormat(1, 0, narrow=True)
    with pytest.raises(ValueError, match="narrow"):
        fxsim.format("u8.0n")


@pytest.mark.parametrize("name", ["s8.0n", "s4.2n"])
def test_wrap_is_not_offered(name):
    with pytest.raises(ValueError, match=rf"overflow='wrap' is not available for format {name}.*"
                                         r"saturate, raise"):
        fxsim.encode([1.0], name, overflow="wrap")
    with pytest.raises(ValueError, match=rf"wrap.*{name}"):
        fxsim.cast(fxsim.asarray([1.0], "s8.0"), name, overflow="wrap")
    with pytest.raises(ValueError, match="not offered"):
        ref.encode(1, ref.FixedFormat(8, 0, narrow=True), overflow="wrap")


def test_the_most_negative_code_still_decodes():
    """The code set is unchanged: 0x80 reads -128 in s8.0n, as in s8.0."""
    codes = np.arange(256, dtype=np.uint8)
    narrow, full = fxsim.format("s8.0n"), fxsim.format("s8.0")
    assert np.array_equal(fxsim.decode(codes, narrow), fxsim.decode(codes, full))
    assert fxsim.decode(np.uint8(0x80), narrow) == -128.0
    assert fxsim.from_bits(np.array([0x80], np.uint8), narrow).to_exact()[0] == -128
    assert ref.decode(0x80, ref.FixedFormat(8, 0, narrow=True)) == (-1, 128)
    # ... and is never a result
    assert int(fxsim.encode(-128.0, narrow)) == 0x81
    assert int(fxsim.encode(-1e300, narrow)) == 0x81
    assert int(fxsim.encode(-127.5, narrow)) == 0x81  # a tie to -128 (even) saturates
    with pytest.raises(OverflowError, match="s8.0n.*-127.0 .. 127.0"):
        fxsim.encode(-128.0, narrow, overflow="raise")


# ------------------------------------------------------------------ exhaustive
@pytest.mark.parametrize("overflow", ["saturate", "raise"])
@pytest.mark.parametrize("name", NARROW)
def test_every_grid_input_every_mode_numba(name, overflow):
    fmt = fxsim.format(name)
    values = grid(fmt)
    xs = np.array([float(v) for v in values])
    assert all(Fraction(x) == v for x, v in zip(xs, values))  # the grid is exact in float64
    for mode in DETERMINISTIC:
        got = check_against_reference(values, xs, fmt, mode, overflow)
        assert not (got == (1 << (fmt.word - 1))).any(), "the excluded code was produced"


@pytest.mark.parametrize("name", ["s3.1n", "s4.-1n", "s8.0n"])
def test_every_grid_input_every_mode_exact_engine(name):
    """Fractions (and an exact non-dyadic third) take the exact Python engine."""
    fmt = fxsim.format(name)
    ulp = Fraction(2) ** -fmt.frac
    values = grid(fmt, sub=2) + [Fraction(-(2 ** (fmt.word - 1)) * 3 + 1, 3) * ulp]
    xs = np.empty(len(values), dtype=object)
    xs[:] = values
    for mode in DETERMINISTIC:
        for overflow in ("saturate", "raise"):
            check_against_reference(values, xs, fmt, mode, overflow)


@pytest.mark.parametrize("mode", STOCHASTIC)
@pytest.mark.parametrize("name", ["s2.0n", "s4.2n", "s8.0n"])
def test_stochastic_every_random_value(name, mode):
    fmt = fxsim.format(name)
    R = 3
    values = grid(fmt, sub=3, beyond=1)
    xs = np.array([float(v) for v in values])
    for r in range(1 << R):
        rs = np.full(len(values), r, dtype=np.uint64)
        for overflow in ("saturate", "raise"):
            check_against_reference(values, xs, fmt, mode, overflow, r=rs, random_bits=R)


def test_wide_narrow_format_exact_engine():
    fmt = fxsim.format("s70.3n")  # wider than 64 bits: Python ints throughout
    top = Fraction(2 ** 69, 8)
    values = [-top, -top + Fraction(1, 16), -top + Fraction(1, 8), top, top - Fraction(1, 16),
              -top - 5, Fraction(-1, 3)]
    xs = np.empty(len(values), dtype=object)
    xs[:] = values
    for mode in DETERMINISTIC:
        for overflow in ("saturate", "raise"):
            check_against_reference(values, xs, fmt, mode, overflow)
    assert int(fxsim.encode(np.array([-top], dtype=object), fmt)[0]) == (1 << 69) + 1


# ------------------------------------------------------------------ casts, arithmetic
@pytest.mark.parametrize("src, dst", [("s8.0", "s8.0n"), ("s8.0", "s4.0n"), ("s8.2", "s6.1n"),
                                      ("s8.0n", "s8.1"), ("s8.0n", "s7.0n"), ("s8.0n", "e4m3fn")])
def test_cast_every_code(src, dst):
    src, dst = fxsim.format(src), fxsim.format(dst)
    codes = np.arange(256, dtype=np.uint8)
    values = [Fraction(s) * m for s, m in (ref.decode(int(c), ref_twin(src)) for c in codes)]
    q = fxsim.from_bits(codes, src)
    overflows = ("saturate", "raise") if not dst.is_float else ("saturate",)
    for mode in DETERMINISTIC:
        for overflow in overflows:
            twin = ref_twin(dst) if not dst.is_float else ref.formats.PRESETS["float8_e4m3fn"]
            want = []
            for v in values:
                try:
                    want.append(ref.encode(v, twin, mode, overflow))
                except OverflowError:
                    want.append(OverflowError)
            over = np.array([w is OverflowError for w in want])
            if over.any():
                with pytest.raises(OverflowError):
                    fxsim.cast(q, dst, mode, overflow)
            got = fxsim.cast(q[~over], dst, mode, overflow)
            assert [int(c) for c in got.bits] == [w for w in want if w is not OverflowError]


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
@pytest.mark.parametrize("out", ["s4.0n", "s5.1n"])
def test_fixed_arithmetic_into_a_narrow_format(op, out, python_engine, monkeypatch):
    out = fxsim.format(out)
    fa, fb = fxsim.format("s4.1"), fxsim.format("s4.0")
    a, b = np.meshgrid(np.arange(16, dtype=np.uint8), np.arange(16, dtype=np.uint8))
    a, b = a.ravel(), b.ravel()
    rfa, rfb = ref_twin(fa), ref_twin(fb)
    for engine in ("numba", "python"):
        if engine == "python":
            python_engine(monkeypatch)
        for mode in DETERMINISTIC:
            got = getattr(fxsim, op)(fxsim.from_bits(a, fa), fxsim.from_bits(b, fb), out=out,
                                     rounding=mode, overflow="saturate")
            want = [getattr(ref, op)(int(x), rfa, int(y), rfb, ref_twin(out), mode, "saturate")
                    for x, y in zip(a, b)]
            assert [int(c) for c in got.bits] == want, (engine, mode)
