"""``fxsim warmup``: compile every kernel family once, up front.

fxsim's kernels are compiled by Numba for the machine they run on the
first time they are called, and cached on disk (see ``fxsim/_kernels/jit.py``:
under ``~/.cache/fxsim`` or ``$XDG_CACHE_HOME/fxsim``, or in
``NUMBA_CACHE_DIR``).  In a fresh environment that is about a minute in
all, spread over the first calls.  :func:`run` spends it in one go: it
calls small, fixed, representative public operations -- encode and decode
of fixed and float formats, the elementwise operations, matmul in each of
its engines, the binary layers, the block formats, the requantization of
``fxsim.nn`` -- so that the argument types the library and its users
commonly meet are compiled (or, when warm, loaded from the cache in a few
seconds) before the real work starts.  ``make demo`` and ``make test`` run
it first, so their timings measure fxsim, not the compiler.

Each step is checked against a plain numpy result, so a warmup that
passes also says the compiled kernels compute what they should.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from ._kernels import jit


# ------------------------------------------------------------------ the steps
# Each step runs a few small operations whose kernels (and kernel argument
# types) are the ones ordinary calls use.  Inputs are fixed: the same
# operations, in the same order, every time.

def _codec():
    from . import codec, formats
    x = np.linspace(-3.0, 3.0, 64)
    for name in ("float8_e4m3fn", "float8_e5m2", "float4_e2m1fn", "float16", "bfloat16",
                 "float32", "s8.4", "s16.8", "u8.0", "s32.16"):
        fmt = formats.format(name)
        bits = codec.encode(x, fmt)                                  # float64 in: convert
        values = codec.decode(bits, fmt)                             # codes as returned
        assert np.all(np.abs(values - np.clip(x, float(fmt.min), float(fmt.max))) <= 0.5), name
    codec.encode(x, "float8_e4m3fn", "stochastic", rng=0)           # random bits
    codec.encode(x, "s8.4", "nearest_away", "wrap")
    codec.encode(x.astype(np.float32), "float8_e4m3fn")              # float32 in: table lookup
    codec.encode(x.astype(np.float32), "s16.8")                      # float32 in: fixed, fused
    frozen = codec.encode(x, "float8_e4m3fn")
    frozen.flags.writeable = False
    codec.decode(frozen, "float8_e4m3fn")                            # read-only codes (QArray.bits)
    codec.encode(x.astype(np.float16), "float8_e5m2")                # float16 in: table lookup
    codec.encode(np.arange(-8, 8, dtype=np.int8), "s8.0")            # integers in
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):        # decode tables, code dtypes
        codec.decode(np.arange(16, dtype=dtype), "float8_e4m3fn")
    codec.decode(np.arange(16, dtype=np.uint16), "float16")
    codec.decode(np.arange(16, dtype=np.uint32), "float32")          # wide: the convert kernel


def _ops():
    from . import array, ops
    e = array.asarray(np.linspace(-2.0, 2.0, 32), "float8_e4m3fn")
    h = array.asarray(np.linspace(0.5, 4.0, 32), "float16")
    # narrow pairs: a table filled by the kernel, then looked up
    for out in ("float8_e4m3fn", "float16", "float32"):
        ops.add(e, e, out=out)
    ops.multiply(e, e)
    # IEEE formats under nearest_even: the machine's arithmetic (one thread, then two)
    f = array.asarray(np.linspace(0.5, 4.0, 32, dtype=np.float32))
    d = array.asarray(np.linspace(0.5, 4.0, 32))
    for threads in sorted({1, min(2, jit.pool_size())}):
        with jit.exact_threads(threads):
            for op in (ops.add, ops.subtract, ops.multiply, ops.divide):
                op(h, h), op(f, f), op(d, d), op(h, f)
            ops.sqrt(h), ops.sqrt(f), ops.sqrt(d), ops.fma(d, d, d)
    # other modes: the core's kernel itself
    for op in (ops.add, ops.subtract, ops.multiply, ops.divide):
        op(h, h, rounding="toward_zero")
    ops.divide(h, h, out="float8_e4m3fn", rounding="stochastic", rng=0)
    ops.fma(e, e, h, out="float16")
    ops.sqrt(h)
    ops.cast(h, "float8_e4m3fn", rounding="toward_zero", overflow="saturate")
    ops.negative(e), ops.absolute(e)
    # fixed point: exact growth (no rounding), then rounded results
    for fa, fb in (("s8.4", "s8.4"), ("s8.4", "s6.2"), ("s16.8", "s16.8"), ("s32.0", "s32.0"),
                   ("s4.2", "s4.2"), ("u8.0", "u8.0")):
        a = array.asarray(np.linspace(-1.5, 1.5, 16) if fa[0] == "s" else np.arange(16.0), fa)
        b = array.asarray(np.linspace(-1.0, 1.0, 16) if fb[0] == "s" else np.arange(16.0), fb)
        a + b, a - b, a * b
    x = array.asarray([1.5, -0.75], "s8.4")
    y = array.asarray([3, 0.5], "s6.2")
    ops.divide(x, y, out="s16.8")
    ops.cast(x * y, "s8.4", rounding="nearest_away", overflow="wrap")
    ops.dot(x, y), ops.sum(x)


def _linalg_exact():
    from . import array, linalg
    rng = np.random.default_rng(0)
    w8 = rng.integers(-128, 128, (8, 24)).astype(np.int8)
    x8 = rng.integers(-128, 128, (24, 6)).astype(np.int8)
    want = w8.astype(np.int64) @ x8.astype(np.int64)
    got = linalg.matmul(w8, x8)                                        # exact: numpy BLAS
    assert np.array_equal(np.asarray(got), want)
    assert np.array_equal(np.asarray(linalg.matmul(w8, x8, acc="s32.0")), want)  # float32 lanes
    linalg.matmul(w8, x8, acc="s8.0", overflow="saturate")
    linalg.matmul(w8, x8, acc="s16.0", overflow="saturate", order=4)
    w16 = rng.integers(-30000, 30000, (8, 24)).astype(np.int16)
    x16 = rng.integers(-30000, 30000, (24, 6)).astype(np.int16)
    linalg.matmul(w16, x16, acc="s40.0", overflow="saturate")          # float64 lanes
    linalg.matmul(w16, x16, acc="s60.0", overflow="saturate")          # int64 lanes
    img = rng.integers(-128, 128, (1, 2, 5, 5)).astype(np.int8)
    linalg.conv2d(img, np.int8([[[[1, -1]], [[2, 0]]]]), padding=1)
    e = array.asarray(rng.normal(size=(4, 16)), "float8_e4m3fn")
    linalg.matmul(e, e.T)                                              # exact, rounded once


def _linalg_sequential():
    from . import array, linalg
    rng = np.random.default_rng(1)
    e = array.asarray(rng.normal(size=(4, 32)), "float8_e4m3fn")
    h = array.asarray(rng.normal(size=(4, 32)), "float16")
    linalg.matmul(e, e.T, acc="float32")                               # hardware float32
    linalg.matmul(h, h.T, acc="float64")                               # hardware float64
    linalg.matmul(e, e.T, acc="bfloat16")                              # the core, step by step
    linalg.matmul(e, e.T, acc="float16", rounding="toward_zero")


def _linalg_blocks():
    from . import array, linalg
    rng = np.random.default_rng(2)
    e = array.asarray(rng.normal(size=(4, 64)), "float8_e4m3fn")
    linalg.matmul(e, e.T, acc="float32", order=16)                     # blocks of exact sums
    linalg.matmul(e, e.T, acc="bfloat16", order=32)
    linalg.matmul(e, e.T, acc="bfloat16", order="pairwise")            # an adder tree
    linalg.matmul(e, e.T, acc="float8_e4m3fn", order="pairwise")


def _units():
    from . import array, linalg
    x = array.asarray(np.arange(-8, 8).reshape(4, 4) / 4, "float8_e4m3fn")
    want = x.to_float() @ x.to_float().T                               # exact in 13 bits
    for name, unit in linalg.UNITS.items():                            # block-FMA tensor cores
        assert np.array_equal(linalg.matmul(x, x.T, order=unit).to_float(), want), name


def _binary():
    from . import binary
    rng = np.random.default_rng(3)
    r = rng.normal(size=640)
    a, b = r.reshape(10, 64), r[:128].reshape(64, 2)
    got = binary.matmul(binary.pack(a), binary.pack(b, axis=-2))      # XOR-popcount
    assert np.array_equal(got, np.where(a < 0, -1, 1) @ np.where(b < 0, -1, 1))
    binary.conv2d(r[:50].reshape(1, 2, 5, 5), r[:8].reshape(2, 2, 1, 2), padding=1, pad_value=0)
    ints = rng.integers(0, 8, (2, 3))
    want = ints @ np.int64([[1], [-2], [3]])
    assert np.array_equal(binary.bitserial_matmul(ints, np.int8([[1], [-2], [3]]), 3, 3, False),
                          want)
    pixels = rng.integers(0, 256, (4, 64))
    binary.bitserial_matmul(pixels, binary.pack(r[:128].reshape(64, 2), axis=-2), a_bits=8,
                            a_signed=False)


def _blocks():
    from . import bfp, mx
    x = np.linspace(-3.0, 3.0, 64)
    for fmt in ("float4_e2m1fn", "float8_e4m3fn", "int8"):
        m = mx.quantize(x, fmt)
        m.dequantize()
    bfp.quantize(x, mantissa_bits=8, block=16).dequantize()


def _nn():
    from . import nn
    m0, shift = nn.quantize_multiplier(0.0123)
    acc = np.arange(-4000, 4000, 125, dtype=np.int32).reshape(4, 16)
    nn.multiply_by_quantized_multiplier(acc, m0, shift)
    nn.multiply_by_quantized_multiplier(acc, m0, shift, rounding="single")
    nn.requantize(acc, np.zeros(16, np.int32), m0, shift, 0, channel_axis=1)
    rng = np.random.default_rng(4)
    x = rng.integers(-128, 128, (1, 3, 6, 6)).astype(np.int8)
    w = rng.integers(-128, 128, (4, 3, 3, 3)).astype(np.int8)
    nn.quantized_conv2d(x, w, np.zeros(4, np.int32), 0, 0, m0, shift, 0, padding=1)
    th = nn.thresholds_sign(gamma=[0.5, -2.0], beta=[0.1, 0.3], mean=[3, -1], var=[4, 9], eps=1e-5)
    nn.apply_thresholds(np.arange(-8, 8).reshape(8, 2), th)
    nn.ap2(np.array([0.3, 0.7, 1.45, 3, -5]))


#: (name, what it covers, function); the order is the order they run in.
STEPS = (
    ("codec", "encode and decode, fixed and float formats", _codec),
    ("ops", "add, mul, div, sqrt, fma, cast; fixed-point growth", _ops),
    ("linalg exact", "exact and fixed-point accumulators, conv2d", _linalg_exact),
    ("linalg sequential", "float accumulators, one rounding per step", _linalg_sequential),
    ("linalg blocks", "blocks of exact sums, adder trees", _linalg_blocks),
    ("linalg units", "block-FMA tensor-core models (BlockFMA presets)", _units),
    ("binary", "XOR-popcount matmul and conv2d, bit-serial", _binary),
    ("mx/bfp", "block formats", _blocks),
    ("nn", "requantization, quantized conv2d, thresholds", _nn),
)


# ------------------------------------------------------------------ reporting
class _Report:
    """Progress on stderr: a bar redrawn in place on a terminal, else one
    line per step; nothing when quiet."""

    WIDTH = 24

    def __init__(self, quiet: bool, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.quiet = quiet or self.stream is None
        try:
            self.tty = not self.quiet and self.stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()

    def start(self, i, n, name):
        if self.tty:
            done = self.WIDTH * i // n
            bar = "#" * done + "-" * (self.WIDTH - done)
            self._write(f"\r\033[Kfxsim warmup [{bar}] {i}/{n} {name} ...")

    def done(self, i, n, name, seconds, compiled):
        if self.quiet or self.tty:
            return
        how = f" (compiled {compiled} kernel{'s' if compiled != 1 else ''})" if compiled else ""
        self._write(f"[{i + 1}/{n}] {name} ... {seconds:.1f} s{how}\n")

    def finish(self, n, seconds, compiled):
        if self.quiet:
            return
        if self.tty:
            self._write(f"\r\033[Kfxsim warmup [{'#' * self.WIDTH}] {n}/{n}\n")
        how = (f"{compiled} kernel{'s' if compiled != 1 else ''} compiled" if compiled
               else "all from the cache")
        self._write(f"fxsim warmup: every kernel family ready in {seconds:.1f} s ({how}; "
                    f"cache in {jit.cache_dir()})\n")


def run(quiet: bool = False) -> int:
    """Compile (or load from the on-disk cache) every kernel family.

    Progress goes to stderr: a bar on a terminal, one line per family
    otherwise (``[3/8] linalg exact ... 4.2 s (compiled 3 kernels)``), then
    the total time.  ``quiet=True`` prints nothing.  Returns 0 (an exit
    status); a kernel that computes a wrong answer raises AssertionError."""
    report = _Report(quiet)
    n = len(STEPS)
    total = 0
    t0 = time.perf_counter()
    with jit.quiet_compiles(), np.errstate(all="ignore"):
        for i, (name, _what, step) in enumerate(STEPS):
            report.start(i, n, name)
            before = sum(jit.compile_counts().values())
            t = time.perf_counter()
            step()
            compiled = sum(jit.compile_counts().values()) - before
            total += compiled
            report.done(i, n, name, time.perf_counter() - t, compiled)
    report.finish(n, time.perf_counter() - t0, total)
    return 0


if __name__ == "__main__":  # python -m fxsim.warmup
    raise SystemExit(run())
