"""numpy's protocols on QArrays: numpy functions that fxsim computes stay in
fxsim's arithmetic, the others are refused.

``QArray.__array_ufunc__`` and ``QArray.__array_function__`` call
:func:`array_ufunc` and :func:`array_function`.  Each routed numpy call is
the fxsim call named beside it, with the same operands and fxsim's defaults
(``rounding="nearest_even"``, each format's default overflow), so it follows
the rules of the operators (see :mod:`fxsim.ops`):

=========================================  ==================================
numpy                                      fxsim
=========================================  ==================================
``np.add``, ``np.subtract``,               :func:`fxsim.add`, ...: exact
``np.multiply``, ``np.divide``             result rounded once into the
(``np.true_divide``)                       wider operand format (floats);
                                           fixed point exact in a grown
                                           format (divide needs ``out=``)
``np.sqrt``                                :func:`fxsim.sqrt`, rounded once
``np.negative``, ``np.absolute``,          :func:`fxsim.negative`,
``np.positive``                            :func:`fxsim.absolute`, exact
``np.matmul`` (``q @ r``)                  :func:`fxsim.matmul`: exact
                                           products, exact sum, one rounding
``np.sum``, ``np.add.reduce``              :func:`fxsim.sum` (``keepdims``
                                           too): exact sum, one rounding
``np.dot``                                 1-d with 1-d: :func:`fxsim.dot`;
                                           2-d with 1-d/2-d:
                                           :func:`fxsim.matmul`; a 0-d
                                           operand: :func:`fxsim.multiply`
``np.equal`` ... ``np.greater_equal``      exact comparison of the values:
                                           a plain bool ndarray
``np.concatenate``, ``np.stack``           codes joined, format kept (one
                                           format: cast first otherwise)
``np.reshape``, ``np.transpose``,          codes moved, format kept, nothing
``np.swapaxes``, ``np.moveaxis``,          rounded
``np.ravel``, ``np.squeeze``,
``np.expand_dims``, ``np.broadcast_to``,
``np.flip``, ``np.copy``,
``np.atleast_1d/2d/3d`` (one array)
``np.shape``, ``np.ndim``, ``np.size``     as for the codes
=========================================  ==================================

So ``np.add(q, r) == fxsim.add(q, r)`` and ``a + q`` with a numpy array
``a`` is ``fxsim.add(a, q)`` (float16/32/64 and integer arrays are read
exactly in their own formats; Python scalars take the QArray's format and
must be exact in it).  numpy's own keywords (``out=``, ``dtype=``,
``where=``, ``initial=``, ...) are refused with a TypeError that names
fxsim's way (``out=`` is a format there).

Every other numpy function or ufunc method on a QArray raises TypeError
saying how to decode first: ``numpy.asarray(q)`` (or ``q.to_float()``) gives
float64 values -- exact for every preset -- on which numpy computes in its
own float64 arithmetic, outside fxsim.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from . import linalg, ops
from .array import QArray, concatenate, wrap_codes

_ARITHMETIC = {
    np.add: ops.add, np.subtract: ops.subtract, np.multiply: ops.multiply,
    np.true_divide: ops.divide, np.sqrt: ops.sqrt, np.negative: ops.negative,
    np.absolute: ops.absolute, np.matmul: linalg.matmul,
}
#: ufunc: (the QArray method when the QArray is on the left, when on the right)
_COMPARISONS = {
    np.equal: ("__eq__", "__eq__"), np.not_equal: ("__ne__", "__ne__"),
    np.less: ("__lt__", "__gt__"), np.less_equal: ("__le__", "__ge__"),
    np.greater: ("__gt__", "__lt__"), np.greater_equal: ("__ge__", "__le__"),
}
_FXSIM_NAMES = {np.add: "fxsim.add", np.subtract: "fxsim.subtract", np.multiply: "fxsim.multiply",
                np.true_divide: "fxsim.divide", np.sqrt: "fxsim.sqrt", np.matmul: "fxsim.matmul",
                np.sum: "fxsim.sum or q.sum", np.dot: "fxsim.dot or fxsim.matmul"}


def _decode_hint(name: str) -> str:
    return (f"numpy.{name} is not one of the operations fxsim computes on QArrays (see "
            f"fxsim.protocols); to compute it in numpy's float64 arithmetic, decode first: "
            f"numpy.{name}(numpy.asarray(q)) or q.to_float() (float64 values, exact for every "
            f"preset); or use fxsim's operations (fxsim.add, fxsim.matmul, q.sum(), "
            f"q.astype(fmt), ...)")


def _refuse_keywords(name, fxsim_name, kwargs):
    if kwargs:
        keys = ", ".join(f"{k}=" for k in kwargs)
        raise TypeError(f"numpy.{name} on a QArray: numpy's {keys} is not offered; call "
                        f"{fxsim_name or 'the fxsim function'} (out= is a format there, with "
                        f"rounding= and overflow=)")


# ---------------------------------------------------------------- ufuncs
def array_ufunc(ufunc, method, inputs, kwargs):
    """What ``QArray.__array_ufunc__`` returns (see the module docstring)."""
    name = ufunc.__name__
    if method == "__call__":
        if ufunc in _ARITHMETIC or ufunc in _COMPARISONS or ufunc is np.positive:
            _refuse_keywords(name, _FXSIM_NAMES.get(ufunc), kwargs)
        if ufunc in _ARITHMETIC:
            return _ARITHMETIC[ufunc](*inputs)
        if ufunc is np.positive:
            return ops.as_operand(inputs[0], None, "positive")
        if ufunc in _COMPARISONS:
            return compare(ufunc, *inputs)
    if method == "reduce" and ufunc is np.add:
        return reduce_sum(*inputs, **kwargs)
    what = name if method == "__call__" else f"{name}.{method}"
    raise TypeError(_decode_hint(what))


def compare(ufunc, a, b) -> np.ndarray:
    """Exact comparison of values (``QArray``'s own ``==``, ``<``, ...): a bool
    ndarray, NaN unordered and unequal to everything."""
    left, right = _COMPARISONS[ufunc]
    result = getattr(a, left)(b) if isinstance(a, QArray) else getattr(b, right)(a)
    if result is NotImplemented:
        other = b if isinstance(a, QArray) else a
        raise TypeError(f"numpy.{ufunc.__name__}: cannot compare a QArray with "
                        f"{type(other).__name__}; give QArrays, numbers or float/int arrays")
    return np.asarray(result, dtype=bool)


def reduce_sum(a, axis=0, dtype=None, out=None, keepdims=False, **rest):
    """``np.add.reduce(q, axis)``: :func:`fxsim.sum` (numpy's default axis 0)."""
    extra = dict(rest, **({"dtype": dtype} if dtype is not None else {}),
                 **({"out": out} if out is not None else {}))
    _refuse_keywords("add.reduce", "fxsim.sum", extra)
    return sum_keepdims(a, axis, keepdims=keepdims)


def sum_keepdims(a, axis=None, keepdims=False, **kwargs) -> QArray:
    """:func:`fxsim.sum` of ``a`` along ``axis`` (None: all), the reduced axes
    kept with length 1 if ``keepdims``."""
    a = ops.as_operand(a, None, "sum")
    result = ops.sum(a, axis=axis, **kwargs)
    if keepdims:
        axes = tuple(range(a.ndim)) if axis is None else normalize_axis_tuple(axis, a.ndim)
        result = result.reshape(tuple(1 if i in axes else n for i, n in enumerate(a.shape)))
    return result


# ---------------------------------------------------------------- functions
def _np_sum(a, axis=None, dtype=None, out=None, keepdims=False, **rest):
    extra = dict(rest, **({"dtype": dtype} if dtype is not None else {}),
                 **({"out": out} if out is not None else {}))
    _refuse_keywords("sum", "fxsim.sum or q.sum", extra)
    return sum_keepdims(a, axis, keepdims)


def _np_dot(a, b, out=None):
    _refuse_keywords("dot", _FXSIM_NAMES[np.dot], {} if out is None else {"out": out})
    a = ops.as_operand(a, b if isinstance(b, QArray) else None, "dot")
    b = ops.as_operand(b, a, "dot")
    if a.ndim == 0 or b.ndim == 0:
        return ops.multiply(a, b)
    if a.ndim == 1 and b.ndim == 1:
        return ops.dot(a, b)
    if a.ndim <= 2 and b.ndim <= 2:
        return linalg.matmul(a, b)
    raise TypeError(f"numpy.dot of shapes {a.shape} and {b.shape}: numpy's N-d dot (sum over the "
                    f"last axis of a and the second-to-last of b) is not routed; use fxsim.matmul "
                    f"(numpy's matmul broadcasting) or fxsim.dot (over the last axes)")


def _one_format(name, arrays):
    arrays = list(arrays)
    if not arrays or not all(isinstance(x, QArray) for x in arrays):
        raise TypeError(f"numpy.{name}: give QArrays only (fxsim.asarray(x, fmt) rounds numbers "
                        f"into a format), or decode them all first (numpy.asarray(q))")
    for i, x in enumerate(arrays):
        if x.fmt != arrays[0].fmt:
            raise ValueError(f"numpy.{name}: array {i} has format {x.fmt.name}, array 0 has "
                             f"{arrays[0].fmt.name}; cast first (fxsim.cast or q.astype)")
    return arrays


def _np_concatenate(arrays, axis=0, out=None, **rest):
    _refuse_keywords("concatenate", "fxsim.concatenate",
                     dict(rest, **({"out": out} if out is not None else {})))
    arrays = _one_format("concatenate", arrays)
    if axis is None:
        arrays, axis = [x.ravel() for x in arrays], 0
    return concatenate(arrays, axis=axis)


def _np_stack(arrays, axis=0, out=None, **rest):
    _refuse_keywords("stack", "fxsim.concatenate", dict(rest, **({"out": out} if out is not None else {})))
    arrays = _one_format("stack", arrays)
    return wrap_codes(np.stack([x.bits for x in arrays], axis=axis), arrays[0].fmt)


def _moves_codes(func):
    """numpy's ``func`` applied to the codes of a QArray, in its format."""
    def handler(a, *args, **kwargs):
        if not isinstance(a, QArray):
            raise TypeError(_decode_hint(func.__name__))
        result = func(a.bits, *args, **kwargs)
        if isinstance(result, (list, tuple)):  # atleast_nd of several arrays
            raise TypeError(f"numpy.{func.__name__} on a QArray: give one array")
        return wrap_codes(np.asarray(result), a.fmt)
    return handler


def _of_codes(func):
    """numpy's ``func`` of the codes' shape (np.shape, np.ndim, np.size)."""
    return lambda a, *args, **kwargs: func(a.bits, *args, **kwargs)


_FUNCTIONS = {np.sum: _np_sum, np.dot: _np_dot, np.concatenate: _np_concatenate,
              np.stack: _np_stack}
_FUNCTIONS.update({f: _moves_codes(f) for f in (
    np.reshape, np.transpose, np.swapaxes, np.moveaxis, np.ravel, np.squeeze, np.expand_dims,
    np.broadcast_to, np.flip, np.copy, np.atleast_1d, np.atleast_2d, np.atleast_3d)})
_FUNCTIONS.update({f: _of_codes(f) for f in (np.shape, np.ndim, np.size)})


def array_function(func, types, args, kwargs):
    """What ``QArray.__array_function__`` returns (see the module docstring)."""
    if not all(issubclass(t, (QArray, np.ndarray)) for t in types):
        return NotImplemented  # another library's arrays: let numpy ask them
    handler = _FUNCTIONS.get(func)
    if handler is None:
        raise TypeError(_decode_hint(func.__name__))
    return handler(*args, **kwargs)
