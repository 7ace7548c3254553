"""``fxsim tour``: the foundation at work, for a first look and for teaching.

A table of a small format, one rounding explained step by step, an
encode/decode round trip with the errors it leaves, the double-rounding
trap fxsim avoids, exact fixed-point growth and once-rounded float
arithmetic, and an MX block.  (``fxsim demo`` is the end-to-end network.)
"""
from __future__ import annotations

import numpy as np

from . import codec, explain
from . import formats as F


def _section(title: str) -> None:
    print()
    print(title)
    print("=" * len(title))


def run() -> int:
    _section("1. Every code of FP4 (float4_e2m1fn, the OCP MX element format)")
    print(explain.table(F.float4_e2m1fn))

    _section("2. One rounding, explained: 464 into float8_e4m3fn (a tie at the top)")
    print(explain.explain("464", F.float8_e4m3fn))

    _section("3. Round trip: 1,000,000 Gaussian values through three formats")
    x = np.random.default_rng(0).normal(0, 1, 1_000_000)
    print(f"{'format':16} {'rounding':14} {'max |error|':>12} {'RMS error':>12} {'SQNR dB':>8}")
    for fmt, mode in ((F.float8_e4m3fn, "nearest_even"), (F.float8_e5m2, "nearest_even"),
                      (F.FixedFormat(8, 5), "nearest_even"), (F.FixedFormat(8, 5), "down")):
        q = codec.quantize(x, fmt, mode)
        err = q - x
        sqnr = 10 * np.log10(np.mean(x ** 2) / np.mean(err ** 2))
        print(f"{fmt.name:16} {mode:14} {np.abs(err).max():12.6f} {np.sqrt(np.mean(err ** 2)):12.6f} {sqnr:8.2f}")

    _section("4. Stochastic rounding is unbiased and reproducible")
    ones = np.full(100_000, 0.3)
    for seed in (1, 1, 2):
        q = codec.quantize(ones, F.FixedFormat(8, 0), "stochastic", rng=seed)
        print(f"seed {seed}: mean of 100,000 roundings of 0.3 onto the integers = {q.mean():.5f}, "
              f"first codes {codec.encode(ones[:8], F.FixedFormat(8, 0), 'stochastic', rng=seed).tolist()}")

    _section("5. float64 is rounded once (through float32 it would be -448: ml_dtypes <= 0.6, torch 2.13)")
    value = -431.99999999999994
    code = int(codec.encode(np.float64(value), F.float8_e4m3fn))
    print(f"encode({value!r}, float8_e4m3fn) = 0x{code:02x} = {codec.decode(code, F.float8_e4m3fn)}")

    _section("6. Arithmetic: fixed point grows exactly, floats round once")
    from . import array, mx, ops
    a = array.asarray([1.5, -0.75, 3.25], "s8.4")
    b = array.asarray([2.5, 0.5, -1.0], "s6.2")
    print(f"a = {a}\nb = {b}")
    print(f"a + b = {a + b}    a * b = {a * b}    dot(a, b) = {ops.dot(a, b)}")
    print(f"cast(a * b, s8.2, nearest_even) = {ops.cast(a * b, 's8.2')}")
    h = array.asarray(np.float16([1.0, 1.0]))
    tiny = array.asarray(np.float16([2.0 ** -11, 2.0 ** -11 + 2.0 ** -21]))
    print(f"float16: 1 + 2**-11 (a tie) = {float((h + tiny)[0])!r}; "
          f"1 + (2**-11 + 2**-21) = {float((h + tiny)[1])!r}")
    u = array.asarray(np.float16([1 + 2.0 ** -10]))
    c = array.asarray(np.float16([-(1 + 2.0 ** -9)]))
    print(f"float16 fma(u, u, c), u = 1 + 2**-10, c = -(1 + 2**-9): once = "
          f"{float(ops.fma(u, u, c)[0])!r} (= 2**-20, exact); "
          f"rounding u*u first gives {float((u * u + c)[0])!r}")
    e = array.asarray([1.0, 1.125], "float8_e4m3fn")
    print(f"x - x = {(e - e).to_float().tolist()}, and under rounding='down': "
          f"{ops.sub(e, e, rounding='down').to_float().tolist()}")

    _section("7. OCP MX: one E8M0 scale per 32 elements (MXFP4)")
    m = mx.quantize(x[:64], "float4_e2m1fn")
    err = m.dequantize() - x[:64]
    print(f"scales {m.scales}  elements[:8] {m.elements[:8].bits.tolist()}  "
          f"RMS error {np.sqrt(np.mean(err ** 2)):.4f}")
    print()
    print("More: fxsim explain VALUE --format F [--rounding M]; fxsim table F; fxsim bench; fxsim --help")
    return 0
