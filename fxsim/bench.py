"""``fxsim bench``: each kernel beside its baseline, timed in the same run.

Every row times fxsim and a baseline doing the same job on the same data and
prints both rates and their ratio (baseline time / fxsim time: above 1 means
fxsim is faster), next to the target the issue set.  Each time is the best
of ``repeat`` runs after one warm-up run (which compiles or loads the
kernels).  Baselines from peers (ml_dtypes, APyTypes) appear when those are
installed; slow baselines run on a slice of the data and are compared by
rate (elements per second).
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class Row:
    name: str
    kernel: Callable[[], object]
    baseline_name: str
    baseline: Callable[[], object] | None  # None: the peer is not installed
    elements: int
    baseline_elements: int
    target: float | None  # the ratio the issue asks for


def _best(fn, repeat: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _peer(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def rows(size: int) -> list[Row]:
    import fxsim

    rng = np.random.default_rng(0)
    x64 = rng.normal(0, 64, size)
    x32 = rng.normal(0, 100, size).astype(np.float32)
    s16_8 = fxsim.FixedFormat(16, 8)
    e4m3 = fxsim.formats.float8_e4m3fn
    codes = fxsim.encode(x32, e4m3)
    ml = _peer("ml_dtypes")
    apy = _peer("apytypes")
    small = min(size, 1_000_000)

    out = [Row("encode f64 -> s16.8 nearest_even saturate",
               lambda: fxsim.encode(x64, s16_8, "nearest_even", "saturate"),
               "numpy clip(rint(x*256))", lambda: np.clip(np.rint(x64 * 256), -32768, 32767),
               size, size, 5.0)]
    if apy is not None:
        x_small = x64[:small]

        def apy_recipe():
            a = apy.APyFixedArray.from_array(x_small, int_bits=24, frac_bits=64)
            return a.cast(int_bits=8, frac_bits=8, quantization=apy.QuantizationMode.RND_CONV,
                          overflow=apy.OverflowMode.SAT)
        apy_row = apy_recipe
    else:
        apy_row = None
    out.append(Row("encode f64 -> s16.8 nearest_even saturate",
                   lambda: fxsim.encode(x64, s16_8, "nearest_even", "saturate"),
                   "APyTypes from_array + cast(RND_CONV, SAT)", apy_row, size, small, 100.0))
    out.append(Row("encode f32 -> float8_e4m3fn", lambda: fxsim.encode(x32, e4m3),
                   "ml_dtypes astype", (lambda: x32.astype(ml.float8_e4m3fn)) if ml else None,
                   size, size, 5.0))
    if ml is not None:
        ml_codes = codes.astype(np.uint8).view(ml.float8_e4m3fn)
    out.append(Row("decode float8_e4m3fn -> f64", lambda: fxsim.decode(codes, e4m3),
                   "ml_dtypes astype(float64)",
                   (lambda: ml_codes.astype(np.float64)) if ml else None, size, size, 1.0))
    out += _op_rows(fxsim, rng, ml, apy, min(size, 1_000_000))
    out += _kernel_rows(fxsim, rng, apy)
    return out


def _im2col_conv(x, w):
    """float32 convolution as numpy users write it: im2col, then one matmul."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * wd, c * kh * kw)
    return (cols @ w.reshape(o, -1).T).reshape(n, h, wd, o).transpose(0, 3, 1, 2)


def _apy_e4m3_matmul(apy, xa, xb, m, acc_man_bits):
    """APyTypes' e4m3 matmul of the leading m x m blocks under an 8-bit
    exponent accumulator context (nearest even), or None if not installed."""
    if apy is None:
        return None
    aa, ab = (apy.APyFloatArray.from_float(x.to_float()[:m, :m], exp_bits=4, man_bits=3)
              for x in (xa, xb))

    def run():
        with apy.APyFloatAccumulatorContext(exp_bits=8, man_bits=acc_man_bits,
                                            quantization=apy.QuantizationMode.RND_CONV):
            return aa @ ab
    return run


def _kernel_rows(fxsim, rng, apy) -> list[Row]:
    """GEMM and convolution kernels (issue 4's targets); elements are
    multiply-accumulates, so slices of slow baselines compare by rate."""
    out = []
    n = 2048
    a, b = rng.standard_normal((n, n)).astype(np.float32), rng.standard_normal((n, n)).astype(np.float32)
    pa, pb = fxsim.binary.pack(a), fxsim.binary.pack(b, axis=-2)
    out.append(Row("binary matmul 2048^3, packed (XOR-popcount)", lambda: fxsim.binary.matmul(pa, pb),
                   "numpy float32 matmul 2048^3", lambda: a @ b, n**3, n**3, 10.0))

    n = 1024
    i8a, i8b = (rng.integers(-128, 128, (n, n)).astype(np.int8) for _ in range(2))
    qa, qb = fxsim.asarray(i8a), fxsim.asarray(i8b)
    fa, fb = i8a.astype(np.float32), i8b.astype(np.float32)
    out.append(Row("int8 x int8 matmul 1024^3, exact", lambda: fxsim.matmul(qa, qb),
                   "numpy float32 matmul, same values", lambda: fa @ fb, n**3, n**3, 1.0))
    m = 512
    ia, ib = i8a[:m, :m].astype(np.int32), i8b[:m, :m].astype(np.int32)
    out.append(Row("int8 x int8 matmul 1024^3, exact", lambda: fxsim.matmul(qa, qb),
                   "numpy int32 matmul (512^3 slice)", lambda: ia @ ib, n**3, m**3, 100.0))

    n = 256
    sa, sb = fxsim.asarray(i8a[:n, :n]), fxsim.asarray(i8b[:n, :n])
    ja, jb = i8a[:n, :n].astype(np.int32), i8b[:n, :n].astype(np.int32)
    out.append(Row("int8 matmul 256^3, saturating s16.0 acc",
                   lambda: fxsim.matmul(sa, sb, acc="s16.0", overflow="saturate"),
                   "numpy int32 matmul 256^3", lambda: ja @ jb, n**3, n**3, 10.0))

    n, m = 512, 128
    e4m3 = fxsim.formats.float8_e4m3fn
    xa, xb = (fxsim.asarray(rng.standard_normal((n, n)), e4m3) for _ in range(2))
    out.append(Row("e4m3fn matmul 512^3, sequential float32 acc",
                   lambda: fxsim.matmul(xa, xb, acc="float32"),
                   "APyFloatArray @, float32 acc ctx (128^3)", _apy_e4m3_matmul(apy, xa, xb, m, 23),
                   n**3, m**3, 20.0))
    n, m = 128, 64
    xa128, xb128 = xa[:n, :n], xb[:n, :n]
    out.append(Row("e4m3fn matmul 128^3, sequential bfloat16 acc",
                   lambda: fxsim.matmul(xa128, xb128, acc=fxsim.formats.bfloat16),
                   "APyFloatArray @, bfloat16 acc ctx (64^3)", _apy_e4m3_matmul(apy, xa, xb, m, 7),
                   n**3, m**3, None))

    m, k, n = 512, 2048, 512
    pixels = rng.integers(0, 256, (m, k))
    wsign = rng.standard_normal((k, n)).astype(np.float32)
    packed = fxsim.binary.pack(wsign, axis=-2)
    pf, wf = pixels.astype(np.float32), np.where(wsign < 0, -1, 1).astype(np.float32)
    out.append(Row("bit-serial 8-bit x binary matmul 512x2048x512",
                   lambda: fxsim.binary.bitserial_matmul(pixels, packed, 8, a_signed=False),
                   "numpy float32 matmul, same values", lambda: pf @ wf, m * k * n, m * k * n, None))

    xi = rng.integers(-128, 128, (8, 64, 28, 28)).astype(np.int8)
    wi = rng.integers(-128, 128, (64, 64, 3, 3)).astype(np.int8)
    xif, wif = xi.astype(np.float32), wi.astype(np.float32)
    macs = 8 * 64 * 28 * 28 * 64 * 9
    out.append(Row("int8 conv2d 8x64x28x28, 64 3x3, pad 1, exact",
                   lambda: fxsim.conv2d(xi, wi, padding=1),
                   "float32 im2col + numpy matmul", lambda: _im2col_conv(xif, wif), macs, macs, None))

    x = rng.standard_normal((8, 256, 28, 28)).astype(np.float32)
    w = rng.standard_normal((256, 256, 3, 3)).astype(np.float32)
    macs = 8 * 256 * 28 * 28 * 256 * 9
    out.append(Row("binary conv2d 8x256x28x28, 256 3x3, pad 1", lambda: fxsim.binary.conv2d(x, w, padding=1),
                   "float32 im2col + numpy matmul", lambda: _im2col_conv(x, w), macs, macs, 5.0))
    return out


def _quiet_divide(u, v):
    with np.errstate(over="ignore", divide="ignore"):
        return u / v


def _op_rows(fxsim, rng, ml, apy, n) -> list[Row]:
    """Elementwise operations on n-element arrays (issue 3's targets)."""
    x, y = rng.normal(0, 16, n), rng.normal(0, 16, n)
    e4m3 = fxsim.formats.float8_e4m3fn
    a8, b8 = fxsim.asarray(x, e4m3), fxsim.asarray(y, e4m3)
    out = []
    for sym, op in (("+", fxsim.add), ("*", fxsim.multiply)):
        name = f"float8_e4m3fn {op.__name__} (correctly rounded)"
        if ml is not None:
            ma, mb = (q.bits.view(ml.float8_e4m3fn) for q in (a8, b8))
            base = (lambda ma=ma, mb=mb, sym=sym: ma + mb if sym == "+" else ma * mb)
        else:
            base = None
        out.append(Row(name, lambda op=op: op(a8, b8), f"ml_dtypes float8_e4m3fn {sym}", base,
                       n, n, 5.0))
        if apy is not None:
            pa = apy.APyFloatArray.from_float(a8.to_float(), exp_bits=4, man_bits=3)
            pb = apy.APyFloatArray.from_float(b8.to_float(), exp_bits=4, man_bits=3)
            base = (lambda pa=pa, pb=pb, sym=sym: pa + pb if sym == "+" else pa * pb)
        else:
            base = None
        out.append(Row(name, lambda op=op: op(a8, b8), f"APyFloatArray(4, 3) {sym}", base, n, n, 5.0))
    s16_8 = fxsim.FixedFormat(16, 8)
    fa, fb = fxsim.asarray(x, s16_8), fxsim.asarray(y, s16_8)
    if apy is not None:
        pa = apy.APyFixedArray.from_float(fa.to_float(), int_bits=8, frac_bits=8)
        pb = apy.APyFixedArray.from_float(fb.to_float(), int_bits=8, frac_bits=8)
        base = lambda: pa * pb  # noqa: E731
    else:
        base = None
    out.append(Row("s16.8 * s16.8 exact (-> s32.16)", lambda: fa * fb, "APyFixedArray *", base,
                   n, n, 1.0))
    for name in ("float16", "float32"):
        dtype = np.dtype(name)
        u, v = x.astype(dtype), np.abs(y).astype(dtype)
        qu, qv = fxsim.asarray(u), fxsim.asarray(v)
        for label, fx, base in (
                ("add", lambda qu=qu, qv=qv: qu + qv, lambda u=u, v=v: u + v),
                ("div", lambda qu=qu, qv=qv: qu / qv, lambda u=u, v=v: _quiet_divide(u, v)),
                ("sqrt", lambda qv=qv: fxsim.sqrt(qv), lambda v=v: np.sqrt(v))):
            out.append(Row(f"{name} {label} (correctly rounded)", fx, f"numpy {name} {label}",
                           base, n, n, None))
    return out


def _startup_seconds() -> float:
    """Wall time of a fresh interpreter importing fxsim and encoding once,
    with a warm Numba cache (the first run warms it)."""
    code = "import numpy as np, fxsim; fxsim.encode(np.array([0.3]), 'float8_e4m3fn')"
    env = dict(os.environ)
    best = float("inf")
    for i in range(4):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        if i:
            best = min(best, time.perf_counter() - start)
    return best


def _python_startup_seconds() -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy"], check=True)
        best = min(best, time.perf_counter() - start)
    return best


def run(size: int = 10_000_000, only: str | None = None, repeat: int = 5) -> int:
    print(f"fxsim bench: {size:,} elements, best of {repeat} after a warm-up; "
          f"ratio = baseline time / fxsim time per element (>1: fxsim faster); "
          f"{os.cpu_count()} CPUs")
    header = f"{'kernel':44} {'fxsim Melem/s':>13}  {'baseline':42} {'Melem/s':>8}  {'ratio':>7}  target"
    print(header)
    print("-" * len(header))
    for row in rows(size):
        if only and only not in row.name and only not in row.baseline_name:
            continue
        t = _best(row.kernel, repeat)
        rate = row.elements / t / 1e6
        if row.baseline is None:
            print(f"{row.name:44} {rate:13.1f}  {row.baseline_name:42} {'(not installed)':>8}")
            continue
        tb = _best(row.baseline, repeat)
        base_rate = row.baseline_elements / tb / 1e6
        ratio = rate / base_rate
        target = f">= {row.target:g}x {'met' if ratio >= row.target else 'NOT met'}" if row.target else ""
        print(f"{row.name:44} {rate:13.1f}  {row.baseline_name:42} {base_rate:8.1f}  {ratio:6.2f}x  {target}")
    if not only or "startup" in only:
        seconds = _startup_seconds()
        bare = _python_startup_seconds()
        label = 'python -c "import numpy" (for scale)'
        print(f"{'startup: import fxsim + first encode':44} {seconds:12.3f}s  "
              f"{label:42} {bare:7.3f}s  "
              f"target < 0.5 s {'met' if seconds < 0.5 else 'NOT met'}")
    return 0
