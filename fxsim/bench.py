"""``fxsim bench``: each kernel beside its baseline, timed in the same run.

Every row times fxsim and a baseline doing the same job on the same data and
prints both rates and their ratio (baseline time / fxsim time: above 1 means
fxsim is faster).  Each time is the best of ``repeat`` runs after one
warm-up run (which compiles or loads the kernels).  Baselines from peers
(ml_dtypes, APyTypes) appear when those are installed; slow baselines run
on a slice of the data and are compared by rate (elements per second).
``targets=True`` (``fxsim bench --targets``) adds the ratios the project's
issues set as goals and whether this machine meets them.

A row's data is built only when the row runs, so ``only=`` (``--only``)
selects rows without building anything for the others.
"""
from __future__ import annotations

import functools
import importlib
import os
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

#: the last row: a fresh interpreter importing fxsim and encoding once
STARTUP = "startup: import fxsim + first encode"
_STARTUP_BASELINE = 'python -c "import numpy" (for scale)'
_STARTUP_TARGET = 0.5  # seconds


@dataclass
class Row:
    name: str
    baseline_name: str
    make: Callable[[], tuple[Callable[[], object], Callable[[], object] | None]]
    """builds the row's data; returns (fxsim kernel, baseline or None if its peer is not installed)"""
    elements: int
    baseline_elements: int
    target: float | None  # the ratio the project's issues ask for (shown with --targets)

    def matches(self, only: str | None) -> bool:
        return not only or only in self.name or only in self.baseline_name


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


def _rng(*key):
    """A generator seeded by ``key`` (ints, and strings such as format names,
    hashed with CRC-32 so the data are the same in every run)."""
    return np.random.default_rng([0, *(zlib.crc32(k.encode()) if isinstance(k, str) else k
                                       for k in key)])


def rows(size: int) -> list[Row]:
    """Every row, cheaply: data is built by ``row.make()``."""
    import fxsim

    s16_8 = fxsim.FixedFormat(16, 8)
    e4m3 = fxsim.formats.float8_e4m3fn
    ml = _peer("ml_dtypes")
    apy = _peer("apytypes")
    small = min(size, 1_000_000)

    x64 = functools.cache(lambda: _rng(1).normal(0, 64, size))
    x32 = functools.cache(lambda: _rng(2).normal(0, 100, size).astype(np.float32))
    codes = functools.cache(lambda: fxsim.encode(x32(), e4m3))

    def encode_s16_8(x):
        return lambda: fxsim.encode(x, s16_8, "nearest_even", "saturate")

    def numpy_encode():
        x = x64()
        return encode_s16_8(x), lambda: np.clip(np.rint(x * 256), -32768, 32767)

    def apy_encode():
        x = x64()
        if apy is None:
            return encode_s16_8(x), None
        x_small = x[:small]

        def apy_recipe():
            a = apy.APyFixedArray.from_array(x_small, int_bits=24, frac_bits=64)
            return a.cast(int_bits=8, frac_bits=8, quantization=apy.QuantizationMode.RND_CONV,
                          overflow=apy.OverflowMode.SAT)
        return encode_s16_8(x), apy_recipe

    def ml_encode():
        x = x32()
        return (lambda: fxsim.encode(x, e4m3)), ((lambda: x.astype(ml.float8_e4m3fn)) if ml else None)

    def ml_decode():
        c = codes()
        if ml is None:
            return (lambda: fxsim.decode(c, e4m3)), None
        ml_codes = c.astype(np.uint8).view(ml.float8_e4m3fn)
        return (lambda: fxsim.decode(c, e4m3)), (lambda: ml_codes.astype(np.float64))

    name = "encode f64 -> s16.8 nearest_even saturate"
    out = [Row(name, "numpy clip(rint(x*256))", numpy_encode, size, size, 5.0),
           Row(name, "APyTypes from_array + cast(RND_CONV, SAT)", apy_encode, size, small, 100.0),
           Row("encode f32 -> float8_e4m3fn", "ml_dtypes astype", ml_encode, size, size, 3.0),
           Row("decode float8_e4m3fn -> f64", "ml_dtypes astype(float64)", ml_decode, size, size, 2.0)]
    out += _op_rows(fxsim, ml, apy, min(size, 1_000_000))
    out += _kernel_rows(fxsim, apy)
    out += _float_gemm_rows(fxsim)
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


def _kernel_rows(fxsim, apy) -> list[Row]:
    """GEMM and convolution kernels (issue 4's targets); elements are
    multiply-accumulates, so slices of slow baselines compare by rate."""
    out = []

    def binary_matmul():
        n = 2048
        rng = _rng(10)
        a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
        pa, pb = fxsim.binary.pack(a), fxsim.binary.pack(b, axis=-2)
        return (lambda: fxsim.binary.matmul(pa, pb)), (lambda: a @ b)
    out.append(Row("binary matmul 2048^3, packed (XOR-popcount)", "numpy float32 matmul 2048^3",
                   binary_matmul, 2048**3, 2048**3, 10.0))

    i8 = functools.cache(lambda: tuple(_rng(11, i).integers(-128, 128, (1024, 1024)).astype(np.int8)
                                       for i in range(2)))
    q8 = functools.cache(lambda: tuple(fxsim.asarray(a) for a in i8()))

    def int8_float32():
        (qa, qb), (fa, fb) = q8(), (a.astype(np.float32) for a in i8())
        return (lambda: fxsim.matmul(qa, qb)), (lambda: fa @ fb)

    def int8_int32():
        (qa, qb), (ia, ib) = q8(), (a[:512, :512].astype(np.int32) for a in i8())
        return (lambda: fxsim.matmul(qa, qb)), (lambda: ia @ ib)

    def int8_saturating():
        sa, sb = (fxsim.asarray(a[:256, :256]) for a in i8())
        ja, jb = (a[:256, :256].astype(np.int32) for a in i8())
        return (lambda: fxsim.matmul(sa, sb, acc="s16.0", overflow="saturate")), (lambda: ja @ jb)

    n = 1024
    out.append(Row("int8 x int8 matmul 1024^3, exact", "numpy float32 matmul, same values",
                   int8_float32, n**3, n**3, 1.0))
    out.append(Row("int8 x int8 matmul 1024^3, exact", "numpy int32 matmul (512^3 slice)",
                   int8_int32, n**3, 512**3, 100.0))
    out.append(Row("int8 matmul 256^3, saturating s16.0 acc", "numpy int32 matmul 256^3",
                   int8_saturating, 256**3, 256**3, 10.0))

    e4m3 = fxsim.formats.float8_e4m3fn
    x8 = functools.cache(lambda: tuple(fxsim.asarray(_rng(12, i).standard_normal((512, 512)), e4m3)
                                       for i in range(2)))

    def e4m3_float32():
        xa, xb = x8()
        return (lambda: fxsim.matmul(xa, xb, acc="float32")), _apy_e4m3_matmul(apy, xa, xb, 128, 23)

    def e4m3_bfloat16():
        xa, xb = x8()
        xa128, xb128 = xa[:128, :128], xb[:128, :128]
        return ((lambda: fxsim.matmul(xa128, xb128, acc=fxsim.formats.bfloat16)),
                _apy_e4m3_matmul(apy, xa, xb, 64, 7))

    out.append(Row("e4m3fn matmul 512^3, sequential float32 acc",
                   "APyFloatArray @, float32 acc ctx (128^3)", e4m3_float32, 512**3, 128**3, 20.0))
    out.append(Row("e4m3fn matmul 128^3, sequential bfloat16 acc",
                   "APyFloatArray @, bfloat16 acc ctx (64^3)", e4m3_bfloat16, 128**3, 64**3, None))

    m, k, n = 512, 2048, 512

    def bitserial():
        rng = _rng(13)
        pixels = rng.integers(0, 256, (m, k))
        wsign = rng.standard_normal((k, n)).astype(np.float32)
        packed = fxsim.binary.pack(wsign, axis=-2)
        pf, wf = pixels.astype(np.float32), np.where(wsign < 0, -1, 1).astype(np.float32)
        return (lambda: fxsim.binary.bitserial_matmul(pixels, packed, 8, a_signed=False)), (lambda: pf @ wf)
    out.append(Row("bit-serial 8-bit x binary matmul 512x2048x512", "numpy float32 matmul, same values",
                   bitserial, m * k * n, m * k * n, 1.0))

    def int8_conv():
        rng = _rng(14)
        xi = rng.integers(-128, 128, (8, 64, 28, 28)).astype(np.int8)
        wi = rng.integers(-128, 128, (64, 64, 3, 3)).astype(np.int8)
        xif, wif = xi.astype(np.float32), wi.astype(np.float32)
        return (lambda: fxsim.conv2d(xi, wi, padding=1)), (lambda: _im2col_conv(xif, wif))
    macs = 8 * 64 * 28 * 28 * 64 * 9
    out.append(Row("int8 conv2d 8x64x28x28, 64 3x3, pad 1, exact", "float32 im2col + numpy matmul",
                   int8_conv, macs, macs, None))

    def binary_conv():
        rng = _rng(15)
        x = rng.standard_normal((8, 256, 28, 28)).astype(np.float32)
        w = rng.standard_normal((256, 256, 3, 3)).astype(np.float32)
        return (lambda: fxsim.binary.conv2d(x, w, padding=1)), (lambda: _im2col_conv(x, w))
    macs = 8 * 256 * 28 * 28 * 256 * 9
    out.append(Row("binary conv2d 8x256x28x28, 256 3x3, pad 1", "float32 im2col + numpy matmul",
                   binary_conv, macs, macs, 5.0))
    return out


def _quiet_divide(u, v):
    with np.errstate(over="ignore", divide="ignore"):
        return u / v


def _op_rows(fxsim, ml, apy, n) -> list[Row]:
    """Elementwise operations on n-element arrays (issue 3's targets)."""
    e4m3 = fxsim.formats.float8_e4m3fn
    s16_8 = fxsim.FixedFormat(16, 8)
    xy = functools.cache(lambda: (_rng(20).normal(0, 16, n), _rng(21).normal(0, 16, n)))
    e8 = functools.cache(lambda: tuple(fxsim.asarray(v, e4m3) for v in xy()))
    out = []
    for sym, op in (("+", fxsim.add), ("*", fxsim.multiply)):
        def ml_op(op=op, sym=sym):
            a8, b8 = e8()
            if ml is None:
                return (lambda: op(a8, b8)), None
            ma, mb = (q.bits.view(ml.float8_e4m3fn) for q in (a8, b8))
            return (lambda: op(a8, b8)), (lambda: ma + mb if sym == "+" else ma * mb)

        def apy_op(op=op, sym=sym):
            a8, b8 = e8()
            if apy is None:
                return (lambda: op(a8, b8)), None
            pa, pb = (apy.APyFloatArray.from_float(q.to_float(), exp_bits=4, man_bits=3) for q in (a8, b8))
            return (lambda: op(a8, b8)), (lambda: pa + pb if sym == "+" else pa * pb)

        name = f"float8_e4m3fn {op.__name__} (correctly rounded)"
        out.append(Row(name, f"ml_dtypes float8_e4m3fn {sym}", ml_op, n, n, 5.0))
        out.append(Row(name, f"APyFloatArray(4, 3) {sym}", apy_op, n, n, 5.0))

    def fixed_mul():
        fa, fb = (fxsim.asarray(v, s16_8) for v in xy())
        if apy is None:
            return (lambda: fa * fb), None
        pa, pb = (apy.APyFixedArray.from_float(q.to_float(), int_bits=8, frac_bits=8) for q in (fa, fb))
        return (lambda: fa * fb), (lambda: pa * pb)
    out.append(Row("s16.8 * s16.8 exact (-> s32.16)", "APyFixedArray *", fixed_mul, n, n, 1.0))

    for name in ("float16", "float32"):
        def operands(dtype=np.dtype(name)):
            x, y = xy()
            u, v = x.astype(dtype), np.abs(y).astype(dtype)
            return u, v, fxsim.asarray(u), fxsim.asarray(v)

        def add(operands=operands):
            u, v, qu, qv = operands()
            return (lambda: qu + qv), (lambda: u + v)

        def div(operands=operands):
            u, v, qu, qv = operands()
            return (lambda: qu / qv), (lambda: _quiet_divide(u, v))

        def sqrt(operands=operands):
            _, v, _, qv = operands()
            return (lambda: fxsim.sqrt(qv)), (lambda: np.sqrt(v))
        def mul(operands=operands):
            u, v, qu, qv = operands()
            return (lambda: qu * qv), (lambda: u * v)
        for label, make in (("add", add), ("mul", mul), ("div", div), ("sqrt", sqrt)):
            out.append(Row(f"{name} {label} (correctly rounded)", f"numpy {name} {label}", make, n, n,
                           0.5))
    return out


def _float_gemm_rows(fxsim) -> list[Row]:
    """Float GEMMs as training uses them (issue 15's targets); elements are
    multiply-accumulates.  Baselines run numpy on the same values."""
    out = []
    m, k, n = 512, 1024, 512

    @functools.cache
    def operands(fmt):
        xa = fxsim.asarray(_rng(30, fmt).standard_normal((m, k)), fmt)
        xb = fxsim.asarray(_rng(31, fmt).standard_normal((k, n)), fmt)
        return xa, xb, xa.to_float(), xb.to_float()

    def gemm(fmt, baseline_dtype, **kw):
        def make():
            xa, xb, fa, fb = operands(fmt)
            ba, bb = fa.astype(baseline_dtype), fb.astype(baseline_dtype)
            return (lambda: fxsim.matmul(xa, xb, **kw)), (lambda: ba @ bb)
        return make

    macs = m * k * n
    for fmt in ("bfloat16", "float16", "float8_e4m3fn"):
        out.append(Row(f"{fmt} matmul {m}x{k}x{n}, sequential float32 acc",
                       "numpy float32 matmul, same values", gemm(fmt, np.float32, acc="float32"),
                       macs, macs, 0.3))
    out.append(Row(f"bfloat16 matmul {m}x{k}x{n}, float32 acc, blocks of 32",
                   "numpy float32 matmul, same values",
                   gemm("bfloat16", np.float32, acc="float32", order=32), macs, macs, 0.2))
    out.append(Row(f"bfloat16 matmul {m}x{k}x{n}, exact (acc=None), out=float32",
                   "numpy float64 matmul, same values",
                   gemm("bfloat16", np.float64, out="float32"), macs, macs, 0.1))
    out.append(Row(f"hopper_fp8 FP8 matmul {m}x{k}x{n}", "numpy float32 matmul, same values",
                   gemm("float8_e4m3fn", np.float32, order=fxsim.linalg.UNITS["hopper_fp8"]),
                   macs, macs, 0.2))

    def mlp_step():
        """The nine GEMMs of one training step of a 64-256-256-10 MLP, batch
        100: three forward (x @ W), three weight gradients (x.T @ dy), three
        input gradients (dy @ W.T); bfloat16 operands, float32 sequential."""
        batch, sizes = 100, (64, 256, 256, 10)
        bf = fxsim.formats.bfloat16
        pairs = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            x = _rng(40, i).standard_normal((batch, fan_in))
            w = _rng(41, i).standard_normal((fan_in, fan_out))
            dy = _rng(42, i).standard_normal((batch, fan_out))
            pairs += [(x, w), (x.T.copy(), dy), (dy, w.T.copy())]
        q = [(fxsim.asarray(a, bf), fxsim.asarray(b, bf)) for a, b in pairs]
        f = [(qa.to_float(), qb.to_float()) for qa, qb in q]

        def fx():
            for qa, qb in q:
                fxsim.matmul(qa, qb, acc="float32")

        def base():
            for fa, fb in f:
                fa @ fb
        return fx, base
    out.append(Row("MLP training step, 9 GEMMs (64-256-256-10, batch 100), bfloat16, float32 acc",
                   "numpy float64, same GEMMs", mlp_step, 1, 1, 0.05))
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


def list_rows(size: int = 10_000_000) -> int:
    """Print every row's kernel and baseline (nothing is built or timed)."""
    print(f"{'kernel':44} baseline")
    for row in rows(size):
        print(f"{row.name:44} {row.baseline_name}")
    print(f"{STARTUP:44} {_STARTUP_BASELINE}")
    return 0


def run(size: int = 10_000_000, only: str | None = None, repeat: int = 5,
        targets: bool = False) -> int:
    """Time the rows whose kernel or baseline name contains ``only`` (all
    by default); ``targets`` adds the project's goals and verdicts."""
    if size < 1:
        raise ValueError(f"size must be at least 1 element, got {size}")
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    chosen = [row for row in rows(size) if row.matches(only)]
    startup = not only or only in STARTUP or only in _STARTUP_BASELINE
    if not chosen and not startup:
        raise ValueError(f"no row's kernel or baseline name contains {only!r}; `fxsim bench --list` "
                         "shows the rows (e.g. --only e4m3fn, --only matmul, --only startup)")
    print(f"fxsim bench: {size:,} elements, best of {repeat} after a warm-up; "
          f"ratio = baseline time / fxsim time per element (>1: fxsim faster); "
          f"{os.cpu_count()} CPUs")
    header = f"{'kernel':44} {'fxsim Melem/s':>13}  {'baseline':42} {'Melem/s':>8}  {'ratio':>7}"
    if targets:
        header += "  target"
    print(header)
    print("-" * len(header))
    for row in chosen:
        kernel, baseline = row.make()
        t = _best(kernel, repeat)
        rate = row.elements / t / 1e6
        if baseline is None:
            print(f"{row.name:44} {rate:13.1f}  {row.baseline_name:42} {'(not installed)':>8}")
            continue
        tb = _best(baseline, repeat)
        base_rate = row.baseline_elements / tb / 1e6
        ratio = rate / base_rate
        line = f"{row.name:44} {rate:13.1f}  {row.baseline_name:42} {base_rate:8.1f}  {ratio:6.2f}x"
        if targets and row.target:
            line += f"  >= {row.target:g}x {'met' if ratio >= row.target else 'NOT met'}"
        print(line)
    if startup:
        seconds = _startup_seconds()
        bare = _python_startup_seconds()
        line = f"{STARTUP:44} {seconds:12.3f}s  {_STARTUP_BASELINE:42} {bare:7.3f}s"
        if targets:
            line += (f"           < {_STARTUP_TARGET:g} s "
                     f"{'met' if seconds < _STARTUP_TARGET else 'NOT met'}")
        print(line)
    return 0
