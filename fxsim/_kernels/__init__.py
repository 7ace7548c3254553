"""Everything Numba compiles, and only that.

``jit``
    The Numba set-up: the on-disk cache directory (keyed by a hash of the
    files of this package, and only these), the compile notice, the work
    chunk size and the thread limit of the parallel kernels.
``core``
    THE rounding core: an exact value in, a format's code out.
``specialize``
    The NaN and special-value policy, in one place.
``primitives``
    Shifts, bit length and 64-bit words: the only places where the compiled
    and the Python engine differ.
``arith``
    Exact arithmetic on decoded operands (sums, products, quotients, square
    roots with their sticky bits) feeding the core.
``convert``, ``elementwise``, ``gemm``, ``popcount``
    The loops: conversion between numbers and codes, elementwise
    operations, matrix products with their accumulation orders, and the
    XNOR/AND-popcount products of binary layers.

The modules here import only numpy, numba, llvmlite and each other; the
Python-level modules of fxsim call them (they are fxsim's private
engine, so their names carry no underscore inside the package).  ``jit`` is
imported first: it points Numba's cache at the right directory before any
kernel is defined.
"""
from . import jit  # noqa: F401  (first: sets Numba's cache directory)
