"""``QArray``: bit patterns plus the format that gives them meaning.

A QArray holds the codes a register would hold (``.bits``: the smallest
unsigned numpy dtype that fits the format's width, or an object array of
Python ints for formats wider than 64 bits) and the format (``.fmt``).
Shape operations (indexing, slicing, reshape, transpose, concatenate) move
codes and keep the format; nothing is rounded.

The codes are read-only: ``q.bits`` is a read-only view (``q.bits[0] = 255``
raises numpy's "assignment destination is read-only", and so does writing
through ``q.bits.view(...)``), so a QArray never holds a code its format
does not have.  New codes go through :meth:`QArray.from_bits` (or
:func:`fxsim.from_bits`), which checks every one; ``q[i] = other`` takes a
QArray of the same format and gives ``q`` a new code array (arrays made
from ``q`` earlier keep the old codes).  ``np.asarray(q)`` and
``q.to_float()`` decode to float64 (exact for every preset); comparisons
compare exact values.  Arithmetic operators call ``fxsim.ops`` (see there
for what is exact and what is rounded); numpy's ufuncs and functions given a
QArray follow :mod:`fxsim.protocols` (fxsim's operations or a TypeError).
"""
from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np

from . import codec, exact, runtime
from . import formats as _formats
from .exact import codes_dtype as bits_dtype  # noqa: F401  (the name users know)

#: The operations behind QArray's operators, ``{name: function}``: filled by
#: ``fxsim.ops`` when it is imported (``fxsim/__init__.py`` does so), so that
#: this module does not import ops (ops builds on QArray).  Names: negative,
#: absolute, add, subtract, multiply, divide, cast.
OPERATORS = {}


def _operator(name):
    try:
        return OPERATORS[name]
    except KeyError:
        raise RuntimeError(f"QArray operator {name!r}: fxsim.ops is not loaded; "
                           "import fxsim (not fxsim.array alone)") from None


def _check_bits(bits, fmt, what="from_bits"):
    """Codes as the dtype of ``fmt``, after checking each is in range."""
    arr = np.asarray(bits) if isinstance(bits, np.ndarray) else np.asarray(bits, dtype=object)
    flat = arr.reshape(-1)
    limit = 1 << fmt.width
    if arr.dtype == object or arr.dtype.kind not in "iu":
        for i, v in enumerate(flat):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) \
                    or not 0 <= int(v) < limit:
                raise ValueError(f"{what}: code {v!r} at index {runtime.format_index(i, arr.shape)} is not "
                                 f"an integer in [0, 2**{fmt.width}) for format {fmt.name}")
    else:
        bad = np.flatnonzero(flat < 0) if arr.dtype.kind == "i" else np.empty(0, np.int64)
        if not bad.size and fmt.width < arr.dtype.itemsize * 8:
            bad = np.flatnonzero(flat >= limit)
        if bad.size:
            raise ValueError(f"{what}: code {flat[bad[0]]} at index {runtime.format_index(bad[0], arr.shape)} "
                             f"is not in [0, 2**{fmt.width}) for format {fmt.name}")
    dtype = bits_dtype(fmt)
    if dtype == object:
        out = np.empty(arr.shape, dtype=object)
        out.reshape(-1)[:] = [int(v) for v in flat]
        return out
    return arr.astype(dtype)


class QArray:
    """An array of codes of one format.

    Make one with :func:`fxsim.asarray` (round numbers into a format) or
    :func:`fxsim.from_bits` (codes you already have).

    Attributes
    ----------
    bits : numpy.ndarray
        The codes (uint8/16/32/64, or Python ints beyond 64 bits), as a
        read-only view: copy it (``q.bits.copy()``) to change codes, and
        make a new QArray of them with :meth:`from_bits`.
    fmt : FixedFormat or FloatFormat
    """

    __slots__ = ("_bits", "_fmt")
    __array_priority__ = 1000  # numpy operators defer to QArray's
    __hash__ = None

    def __init__(self, bits, fmt, *, _what="QArray"):
        fmt = _formats.format(fmt)
        codes = _check_bits(bits, fmt, _what)  # always a new array
        codes.flags.writeable = False
        self._bits = codes
        self._fmt = fmt

    @classmethod
    def from_bits(cls, bits, fmt) -> QArray:
        """A QArray of a copy of the codes ``bits`` in ``fmt``, after checking
        that every code is an integer in ``[0, 2**fmt.width)``: a ValueError
        names the format and the index of the first code that is not."""
        return cls(bits, fmt, _what="from_bits")

    def __reduce__(self):
        # unpickled numpy arrays are writeable: freeze the codes again
        return _rebuild, (self._bits, self._fmt)

    # ------------------------------------------------------------ data
    @property
    def bits(self) -> np.ndarray:
        """The codes, read-only (a view: its flag cannot be turned back on)."""
        return self._bits.view()

    @property
    def fmt(self):
        return self._fmt

    @property
    def shape(self) -> tuple:
        return self._bits.shape

    @property
    def ndim(self) -> int:
        return self._bits.ndim

    @property
    def size(self) -> int:
        return self._bits.size

    def __len__(self) -> int:
        return len(self._bits)

    def to_float(self) -> np.ndarray:
        """float64 values (exact for every preset; see ``fxsim.decode``)."""
        return codec.decode(self._bits, self._fmt)

    def to_exact(self) -> np.ndarray:
        """Exact values: an object array of ``Fraction`` (NaN/inf as floats)."""
        return np.asarray(codec.decode(self._bits, self._fmt, exact=True), dtype=object)

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(q)``: float64 values, decoded by the core -- exact
        wherever float64 holds the format's values (every preset; fixed
        point of at most 53 significant bits within float64's range), else
        each code's value correctly rounded (nearest even) into float64: a
        64-bit integer beyond 2**53 loses low bits, values beyond float64's
        range become +-inf, tiny ones round to subnormals or 0.  A new array
        every time.  With ``dtype`` numpy casts those float64 values once
        more (a second rounding for float32/float16): use ``q.astype(fmt)``
        for one rounding.  Arithmetic on the result is numpy's float64, not
        fxsim's; numpy functions given the QArray itself stay in fxsim
        (:mod:`fxsim.protocols`)."""
        values = np.asarray(self.to_float())
        return values if dtype is None else values.astype(dtype)

    def __float__(self) -> float:
        return float(self.to_float())

    # ------------------------------------------------------------ shape
    def __getitem__(self, index):
        return wrap_codes(np.asarray(self._bits[index]), self._fmt)

    def __setitem__(self, index, value):
        if not isinstance(value, QArray) or value.fmt != self._fmt:
            raise ValueError(f"QArray of format {self._fmt.name}: assign a QArray of the same "
                             f"format (use fxsim.cast or fxsim.asarray(x, fmt) to round into it)")
        codes = self._bits.copy()  # the old array may be shared with other QArrays
        codes[index] = value._bits
        codes.flags.writeable = False
        self._bits = codes

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def reshape(self, *shape, order="C") -> QArray:
        return wrap_codes(self._bits.reshape(*shape, order=order), self._fmt)

    def transpose(self, *axes) -> QArray:
        return wrap_codes(self._bits.transpose(*axes), self._fmt)

    @property
    def T(self) -> QArray:
        return self.transpose()

    def ravel(self) -> QArray:
        return wrap_codes(self._bits.ravel(), self._fmt)

    def copy(self) -> QArray:
        return wrap_codes(self._bits.copy(), self._fmt)

    # ------------------------------------------------------------ display
    def __repr__(self) -> str:
        from . import display  # integer formats print as integers (fxsim.display)
        text = display.integer_text(self, "repr")
        if text is not None:
            return text
        if self._fmt.width <= 64 and _formats.float64_holds(self._fmt):
            # float64 holds every value exactly; "unique" prints it in full
            body = np.array2string(np.asarray(self.to_float()), separator=", ", prefix="QArray(",
                                   floatmode="unique")
        else:
            body = np.array2string(self.to_exact(), separator=", ", prefix="QArray(",
                                   formatter={"all": str})
        return f"QArray({body}, fmt={self._fmt.name})"

    def __str__(self) -> str:
        from . import display
        text = display.integer_text(self, "str")
        return text if text is not None else f"{np.asarray(self.to_float())} ({self._fmt.name})"

    def _repr_html_(self) -> str:
        """Jupyter's view: a table of codes, bits coloured by field, values (fxsim.display.html)."""
        from . import display
        return display.html(self)

    def hex(self) -> np.ndarray:
        """The codes as zero-padded hex strings (no ``0x``), a numpy array of this shape."""
        from . import display
        return display.hex_codes(self)

    def bin(self) -> np.ndarray:
        """The codes as ``width`` binary digits, a numpy array of this shape."""
        from . import display
        return display.bin_codes(self)

    # ------------------------------------------------------------ comparisons
    def _comparable(self, other):
        """Two arrays whose comparison is the exact comparison of values."""
        if isinstance(other, QArray):
            pairs = (self, other)
        elif isinstance(other, (numbers.Number, np.number)) or (
                isinstance(other, np.ndarray) and other.dtype.kind in "fiub"):
            pairs = (self, None)
        else:
            return None
        if all(p is None or (p.fmt.width <= 64 and _formats.float64_holds(p.fmt)) for p in pairs) and \
                _scalar_float64_exact(other):
            left = np.asarray(self.to_float())
            right = np.asarray(other.to_float()) if isinstance(other, QArray) else other
        else:
            left = self.to_exact()
            right = other.to_exact() if isinstance(other, QArray) else _exact_scalar_or_array(other)
        return left, right

    def _compare(self, other, op):
        pair = self._comparable(other)
        if pair is None:
            return NotImplemented
        return op(*pair)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    # ------------------------------------------------------------ arithmetic
    def __neg__(self):
        return _operator("negative")(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _operator("absolute")(self)

    def __add__(self, other):
        return _operator("add")(self, other)

    def __radd__(self, other):
        return _operator("add")(other, self)

    def __sub__(self, other):
        return _operator("subtract")(self, other)

    def __rsub__(self, other):
        return _operator("subtract")(other, self)

    def __mul__(self, other):
        return _operator("multiply")(self, other)

    def __rmul__(self, other):
        return _operator("multiply")(other, self)

    def __truediv__(self, other):
        return _operator("divide")(self, other)

    def __rtruediv__(self, other):
        return _operator("divide")(other, self)

    def __matmul__(self, other):
        """``q @ r``: :func:`fxsim.matmul` (exact products and sum, one rounding)."""
        from .linalg import matmul  # local: linalg builds on QArray
        return matmul(self, other)

    def __rmatmul__(self, other):
        from .linalg import matmul
        return matmul(other, self)

    # ------------------------------------------------------------ numpy, peers
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """numpy ufuncs fxsim computes stay in fxsim; the rest raise TypeError
        (:mod:`fxsim.protocols` lists them)."""
        from .protocols import array_ufunc  # local: protocols builds on ops
        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """numpy functions: as :meth:`__array_ufunc__` (:mod:`fxsim.protocols`)."""
        from .protocols import array_function
        return array_function(func, types, args, kwargs)

    def sum(self, axis=None, out=None, rounding="nearest_even", overflow=None, keepdims=False):
        """:func:`fxsim.sum`: the exact sum along ``axis`` (None: all elements;
        no accumulation order, nothing rounded on the way), rounded once into
        ``out`` (default: this format) with IEEE 754's rules for NaN, inf and
        the sign of zero.  Fixed point without ``out``: exact, in a format
        grown by ``ceil(log2(n))`` integer bits.  ``keepdims`` as numpy's."""
        from .protocols import sum_keepdims
        return sum_keepdims(self, axis, keepdims, out=out, rounding=rounding, overflow=overflow)

    def astype(self, fmt, rounding="nearest_even", overflow=None, *, rng=None, random=None,
               random_bits=32) -> QArray:
        """The values rounded once into ``fmt`` by the core: :func:`fxsim.cast`
        (a format, a name or a numpy/ml_dtypes/torch dtype; the modes as there)."""
        return _operator("cast")(self, fmt, rounding, overflow, rng=rng, random=random,
                                 random_bits=random_bits)

    def to_ml_dtypes(self) -> np.ndarray:
        """The codes as an ml_dtypes (or numpy) array of this format, bit for
        bit (:func:`fxsim.interop.to_ml_dtypes`)."""
        from .interop import to_ml_dtypes
        return to_ml_dtypes(self)

    def to_torch(self):
        """The codes as a CPU torch tensor of this format's dtype, bit for bit
        (:func:`fxsim.interop.to_torch`)."""
        from .interop import to_torch
        return to_torch(self)


def _scalar_float64_exact(other) -> bool:
    if isinstance(other, QArray):
        return True
    if isinstance(other, np.ndarray):
        return other.dtype.kind in "fb" or (other.dtype.kind in "iu" and other.dtype.itemsize < 8)
    if isinstance(other, (float, np.floating)):
        return not isinstance(other, np.longdouble)
    if isinstance(other, (int, np.integer)):
        return -(1 << 53) <= int(other) <= (1 << 53)
    return False


def _exact_scalar_or_array(x):
    values = exact.exact_values(x, "comparison")
    return values[()] if values.ndim == 0 else values


def wrap_codes(codes, fmt) -> QArray:
    """A QArray around codes known to be valid: fxsim's own results (no
    copy, no check; users call :func:`from_bits`, which checks).

    The QArray takes ``codes`` over: it becomes read-only, so the caller
    must not hold on to it (or to a writeable array it is a view of) to
    write into later."""
    q = object.__new__(QArray)
    dtype = bits_dtype(fmt)
    if codes.dtype != dtype:
        codes = codes.astype(dtype)
    codes.flags.writeable = False
    q._bits = codes
    q._fmt = fmt
    return q


def _rebuild(bits, fmt) -> QArray:
    return wrap_codes(np.array(bits, copy=True), fmt)


def from_bits(bits, fmt) -> QArray:
    """A QArray of the codes ``bits`` (integers in ``[0, 2**width)``) in ``fmt``
    (a copy, checked: see :meth:`QArray.from_bits`)."""
    return QArray.from_bits(bits, fmt)


def asarray(x, fmt=None, rounding="nearest_even", overflow=None, *, rng=None, random=None,
            random_bits=32) -> QArray:
    """``x`` rounded once into ``fmt``, as a QArray (see :func:`fxsim.encode`).

    A QArray passes through unchanged when ``fmt`` is None or its own format
    (use :func:`fxsim.cast` to change format).  Without ``fmt``, float16/32/64
    arrays become QArrays of those formats and integer arrays of the
    matching int formats, exactly; ml_dtypes arrays and torch tensors
    become QArrays of their own formats by bit views
    (:func:`fxsim.from_ml_dtypes`, :func:`fxsim.from_torch`).
    """
    if isinstance(x, QArray):
        if fmt is None or _formats.format(fmt) == x.fmt:
            return x
        return _operator("cast")(x, fmt, rounding, overflow, rng=rng, random=random,
                        random_bits=random_bits)
    if fmt is None:
        from . import interop  # ml_dtypes arrays and torch tensors keep their own format, exactly
        if interop.is_tensor(x):
            return interop.from_torch(x)
        if isinstance(getattr(x, "dtype", None), np.dtype) and interop.is_ml_dtype(x.dtype):
            return interop.from_ml_dtypes(x)
        arr = np.asarray(x)
        source = runtime.SOURCES.get(arr.dtype)
        if source is None or arr.dtype == np.bool_:
            raise ValueError(f"asarray: give a format for values of dtype {arr.dtype} "
                             "(e.g. fxsim.asarray(x, 'float8_e4m3fn'))")
        view, fmt = source
        # a copy: the QArray must not change when the caller writes into x
        return wrap_codes(np.array(arr, order="C", copy=True).view(view), fmt)
    fmt = _formats.format(fmt)
    bits = codec.encode(x, fmt, rounding, overflow, rng=rng, random=random,
                        random_bits=random_bits)
    return wrap_codes(np.asarray(bits), fmt)


def concatenate(arrays, axis=0) -> QArray:
    """Join QArrays of one format along an axis (``numpy.concatenate``)."""
    arrays = list(arrays)
    if not arrays or not all(isinstance(a, QArray) for a in arrays):
        raise ValueError("concatenate: give a sequence of QArrays")
    fmt = arrays[0].fmt
    for i, a in enumerate(arrays):
        if a.fmt != fmt:
            raise ValueError(f"concatenate: array {i} has format {a.fmt.name}, array 0 has "
                             f"{fmt.name}; cast first (fxsim.cast)")
    return wrap_codes(np.concatenate([a.bits for a in arrays], axis=axis), fmt)
