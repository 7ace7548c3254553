"""ml_dtypes and torch arrays in and out of fxsim, by their bits.

Neither ml_dtypes nor torch is a dependency: they are imported inside the
functions that need them (never when fxsim is imported), and fxsim works
without them.

Codes move, values do not: :func:`from_ml_dtypes` / :func:`to_ml_dtypes`
and :func:`from_torch` / :func:`to_torch` reinterpret the stored bits
(numpy's ``.view`` of the same bytes as unsigned integers, torch's
``Tensor.view(dtype)`` of the same element size) and never convert a value
through float, so every code -- NaNs with their payload and sign, -0,
subnormals -- arrives unchanged.  A dtype is the fxsim format of the same
name (:func:`fxsim.format` reads numpy, ml_dtypes and torch dtypes; the
tests check every code of every type against the peer's own values).
ml_dtypes keeps its 1-, 2- and 4-bit types (int4, float4_e2m1fn, float6_*)
one per byte, the code in the low bits: those bytes are fxsim's codes.
Formats a peer has no dtype for (e.g. ``s16.8``, ``e3m3``, formats of more
than 64 bits; torch's packed ``float4_e2m1fn_x2``) are refused with a
ValueError naming the format.

Exact inputs: :func:`exact_input` is how :func:`fxsim.encode` (and so
``fxsim.asarray(x, fmt)``, ``fxsim.cast``, MX/BFP quantizers) reads an
ml_dtypes array or scalar or a torch tensor: the codes are read as above and
given as the exact values of their own format -- float64 for floats (every
ml_dtypes and torch float format is held exactly by float64, incl. NaN's
sign and -0) and int64 for integer types -- so the target format receives
each value rounded once, exactly as ``fxsim.cast(fxsim.from_ml_dtypes(x),
fmt)`` would.
"""
from __future__ import annotations

import functools
import sys

import numpy as np

from . import formats as _formats
from .array import QArray, from_bits
from .exact import signed_ints

#: numpy's own dtypes that are fxsim presets (a format's numpy peer).
_NUMPY_NAMES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64",
                "uint8", "uint16", "uint32", "uint64")
#: torch's dtypes that are fxsim presets, where the installed torch has them.
_TORCH_NAMES = ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
                "float8_e8m0fnu", "bfloat16", "float16", "float32", "float64",
                "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def is_ml_dtype(dtype) -> bool:
    """Is ``dtype`` (a numpy dtype) one of ml_dtypes' types?"""
    return getattr(dtype.type, "__module__", "").split(".")[0] == "ml_dtypes"


def is_tensor(x) -> bool:
    """Is ``x`` a torch tensor?  (Never imports torch: without it loaded, no
    object can be one.)"""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


# ---------------------------------------------------------------- ml_dtypes
@functools.lru_cache(maxsize=1)
def _numpy_by_format():
    return {_formats.format(name): np.dtype(name) for name in _NUMPY_NAMES}


@functools.lru_cache(maxsize=1)
def _ml_dtypes_by_format():
    """``{format: numpy dtype}`` of numpy's presets and every ml_dtypes type
    that is an fxsim format."""
    table = dict(_numpy_by_format())
    try:
        import ml_dtypes
    except ImportError:
        return table
    for name in dir(ml_dtypes):
        kind = getattr(ml_dtypes, name)
        if not (isinstance(kind, type) and issubclass(kind, np.generic)):
            continue
        try:
            table.setdefault(_formats.format(np.dtype(kind)), np.dtype(kind))
        except ValueError:  # complex types; types newer than fxsim's formats
            continue
    return table


def _view_unsigned(arr: np.ndarray) -> np.ndarray:
    return arr.view(f"uint{arr.dtype.itemsize * 8}")


def from_ml_dtypes(arr) -> QArray:
    """A QArray of the codes of an ml_dtypes (or numpy float/int) array, in
    the format of its dtype: a bit view, checked and copied; no value passes
    through float.  ValueError for dtypes without an fxsim format, and --
    naming the index -- for a byte that is not a code of a narrow type (an
    int4 byte with its high bits set)."""
    arr = np.asarray(arr)
    fmt = _formats.format(arr.dtype)
    if arr.dtype.itemsize * 8 < fmt.width:
        raise ValueError(f"from_ml_dtypes: dtype {arr.dtype} ({arr.dtype.itemsize} bytes) cannot "
                         f"hold format {fmt.name} ({fmt.width} bits)")
    return from_bits(_view_unsigned(arr), fmt)


def to_ml_dtypes(q: QArray) -> np.ndarray:
    """``q``'s codes as an array of the ml_dtypes (or numpy) dtype of its
    format: a copy of the codes, viewed; no rounding, no value through
    float.  ValueError naming the format if ml_dtypes (and numpy) has no
    such type; ImportError if the format needs ml_dtypes and it is missing."""
    dtype = _ml_dtypes_by_format().get(q.fmt)
    if dtype is None:
        try:
            import ml_dtypes
        except ImportError:
            raise ImportError(f"to_ml_dtypes: format {q.fmt.name} needs the ml_dtypes package "
                              "(pip install ml_dtypes)") from None
        have = sorted(d.name for d in _ml_dtypes_by_format().values())
        raise ValueError(f"to_ml_dtypes: ml_dtypes {ml_dtypes.__version__} and numpy have no dtype "
                         f"for format {q.fmt.name} ({q.fmt!r}); they have: {', '.join(have)}")
    if dtype.itemsize * 8 < q.fmt.width:  # pragma: no cover (every type holds its format)
        raise ValueError(f"to_ml_dtypes: dtype {dtype} cannot hold format {q.fmt.name}")
    codes = q.bits.astype(f"uint{dtype.itemsize * 8}")  # a new, writeable array
    return codes.view(dtype)


# ---------------------------------------------------------------- torch
def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("fxsim's torch interop needs torch (pip install torch)") from None
    return torch


@functools.lru_cache(maxsize=1)
def _torch_by_format():
    torch = _torch()
    table = {}
    for name in _TORCH_NAMES:
        dtype = getattr(torch, name, None)
        if isinstance(dtype, torch.dtype):
            table[_formats.format(dtype)] = dtype
    return table


def _signed_torch(torch, size):
    return {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[size]


def from_torch(t) -> QArray:
    """A QArray of a torch tensor's codes in the format of its dtype
    (float8_e4m3fn/e5m2/e4m3fnuz/e5m2fnuz/e8m0fnu, bfloat16, float16/32/64,
    int8..int64, uint8..uint64): the tensor's bits, viewed as integers of
    the same size and copied; no rounding.  A tensor on another device is
    copied to the CPU first (bits unchanged); gradients are not followed."""
    torch = _torch()
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"from_torch: expected a torch.Tensor, got {type(t).__name__}")
    fmt = _formats.format(t.dtype)
    if fmt not in _torch_by_format():
        have = ", ".join(str(d).split(".")[-1] for d in _torch_by_format().values())
        raise ValueError(f"from_torch: fxsim reads torch tensors of dtypes {have}; not {t.dtype} "
                         f"(format {fmt.name})")
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.layout != torch.strided:
        raise ValueError(f"from_torch: give a dense tensor (layout {t.layout}) of dtype {t.dtype}")
    ints = t.view(_signed_torch(torch, t.element_size())).numpy()
    return from_bits(_view_unsigned(ints), fmt)


def to_torch(q: QArray):
    """``q``'s codes as a CPU torch tensor of the dtype of its format (a
    copy; bits unchanged).  ValueError naming the format if torch has no
    such dtype (fixed point other than int8..int64/uint8..uint64, float
    formats other than its float8 types, bfloat16 and float16/32/64)."""
    torch = _torch()
    dtype = _torch_by_format().get(q.fmt)
    if dtype is None:
        have = ", ".join(str(d).split(".")[-1] for d in _torch_by_format().values())
        raise ValueError(f"to_torch: torch {torch.__version__} has no dtype for format "
                         f"{q.fmt.name} ({q.fmt!r}); it has: {have}")
    size = dtype.itemsize
    ints = np.ascontiguousarray(q.bits.astype(f"uint{size * 8}").view(f"int{size * 8}"))
    return torch.from_numpy(ints).view(dtype)


# ---------------------------------------------------------------- exact inputs
def exact_input(x):
    """The exact values of an ml_dtypes array or scalar or a torch tensor as
    an array fxsim's encoders read exactly (see the module docstring), or
    None if ``x`` is neither."""
    if is_tensor(x):
        if x.dtype == _torch().bool:
            return x.detach().cpu().numpy()
        q = from_torch(x)
    elif isinstance(x, (np.ndarray, np.generic)) and is_ml_dtype(x.dtype):
        q = from_ml_dtypes(x)
    else:
        return None
    native = _numpy_by_format().get(q.fmt)
    if native is not None:  # float16/32/64, int8..uint64: the codes viewed as numpy's dtype
        return q.bits.view(native)
    if not q.fmt.is_float:
        return signed_ints(q.bits, q.fmt)
    if not _formats.float64_holds(q.fmt):  # pragma: no cover (every peer type fits)
        raise ValueError(f"format {q.fmt.name} of the input is not held by float64")
    return np.asarray(q.to_float(), dtype=np.float64)
