"""Every pair of codes of the 8-bit (and 6-, 4-bit) presets through add, sub,
mul and div, in every deterministic mode, against reference/.

The oracle is reference.arith.  To keep this fast, a pair of finite nonzero
operands whose exact result is nonzero goes to reference.encode through a
cache keyed on the exact result (reference.arith does exactly
``encode(Fraction result)`` for those); every other pair (NaN, inf, zeros,
exact cancellation, division by zero) is asked of reference.arith itself.
"""
from __future__ import annotations

import operator
from fractions import Fraction

import numpy as np
import pytest

import fxsim
import reference
import reference.arith as ra
from tests.oracle import DETERMINISTIC, ref_format

FORMATS = ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
           "float8_e4m3b11fnuz", "float8_e3m4", "float8_e4m3", "float8_e8m0fnu",
           "float6_e3m2fn", "float6_e2m3fn", "float4_e2m1fn"]
OPS = {"add": (fxsim.add, ra.add, operator.add), "sub": (fxsim.sub, ra.sub, operator.sub),
       "mul": (fxsim.mul, ra.mul, operator.mul), "div": (fxsim.div, ra.div, operator.truediv)}


class _Pairs:
    """The exact result of ``op`` for every pair of codes (row-major), as
    indices into the distinct finite nonzero results, or -1 where
    reference.arith itself must answer."""

    def __init__(self, op, rf, n):
        exact_op = OPS[op][2]
        values = []
        for code in range(n):
            sign, mag = reference.decode(code, rf)
            values.append(sign * mag if isinstance(mag, Fraction) and mag != 0 else None)
        self.distinct = {}
        self.index = []
        for a in range(n):
            for b in range(n):
                va, vb = values[a], values[b]
                exact = 0 if va is None or vb is None or (op == "div" and vb == 0) \
                    else exact_op(va, vb)
                self.index.append(self.distinct.setdefault(exact, len(self.distinct))
                                  if exact != 0 else -1)
        self.op, self.rf, self.n = op, rf, n

    def expected(self, mode, overflow, subset, cache):
        """Expected code (or exception class) of each pair in ``subset``;
        ``cache`` maps exact values to reference.encode's answers under
        (mode, overflow), shared between operations."""
        ref_op = OPS[self.op][1]
        codes = {}
        needed = {self.index[i] for i in subset}
        for value, k in self.distinct.items():
            if k not in needed:
                continue
            if value not in cache:
                try:
                    cache[value] = reference.encode(value, self.rf, mode, overflow)
                except (ValueError, OverflowError) as e:
                    cache[value] = type(e)
            codes[k] = cache[value]
        out = []
        for i in subset:
            if self.index[i] >= 0:
                out.append(codes[self.index[i]])
                continue
            try:
                out.append(ref_op(i // self.n, self.rf, i % self.n, self.rf, self.rf, mode,
                                  overflow))
            except (ValueError, OverflowError) as e:
                out.append(type(e))
        return out


def _check(fx_op, name, op, a, b, subset, expected, mode, overflow):
    ok = [i for i, e in zip(subset, expected) if not isinstance(e, type)]
    want = np.array([e for e in expected if not isinstance(e, type)], dtype=np.uint64)
    got = fx_op(a[ok], b[ok], rounding=mode, overflow=overflow).bits
    bad = np.flatnonzero(got != want)
    assert not bad.size, (
        f"{op} {name} {mode}/{overflow}: codes {int(a.bits[ok][bad[0]]):#x}, "
        f"{int(b.bits[ok][bad[0]]):#x} gave {int(got[bad[0]]):#x}, "
        f"reference {int(want[bad[0]]):#x} ({bad.size} mismatches)")
    errors = [(i, e) for i, e in zip(subset, expected) if isinstance(e, type)]
    for i, e in errors[:3] + errors[-3:]:  # the error cases raise the same exception
        with pytest.raises(e):
            fx_op(a[i], b[i], rounding=mode, overflow=overflow)


@pytest.mark.parametrize("name", FORMATS)
def test_every_pair(name):
    fmt = fxsim.format(name)
    rf = ref_format(fmt)
    n = 1 << fmt.width
    codes = np.arange(n, dtype=np.uint64)
    a = fxsim.from_bits(np.repeat(codes, n), fmt)
    b = fxsim.from_bits(np.tile(codes, n), fmt)
    everything = range(n * n)
    specials = [np.nan] if fmt.has_nan else []
    specials += [np.inf, -np.inf] if fmt.has_inf else []
    ends = {int(c) for c in fxsim.encode([fmt.max, -fmt.max] + specials, fmt)}
    caches = {}
    for op, (fx_op, _, _) in OPS.items():
        pairs = _Pairs(op, rf, n)
        for mode in DETERMINISTIC:
            default = reference.default_overflow(rf)
            expected = pairs.expected(mode, default, everything,
                                      caches.setdefault((mode, default), {}))
            _check(fx_op, name, op, a, b, everything, expected, mode, None)
            # the other overflow policies differ only where the default
            # result is an end of the range (max, inf, NaN) or an error
            edge = [i for i, e in enumerate(expected) if isinstance(e, type) or e in ends]
            for overflow in fmt.overflows:
                if overflow != fmt.default_overflow and edge:
                    _check(fx_op, name, op, a, b, edge,
                           pairs.expected(mode, overflow.value, edge,
                                          caches.setdefault((mode, overflow.value), {})),
                           mode, overflow.value)
