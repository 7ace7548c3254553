"""fxsim: a bit-exact reference simulator of low-precision arithmetic.

Every value fxsim produces passes through one rounding function
(``fxsim._kernels.core.round_code``); see README.md for the semantic contract.
"""
from . import _kernels  # noqa: F401  (must come first: sets Numba's cache directory)
from . import formats
from .array import QArray, asarray, concatenate, from_bits
from .codec import decode, encode, quantize
from .formats import FixedFormat, FloatFormat, format
from .modes import Overflow, Rounding
from .ops import (absolute, add, cast, div, divide, dot, fma, mul, multiply, negative,
                  result_format, sqrt, sub, subtract, sum)
from .linalg import conv2d, matmul
from .interop import from_ml_dtypes, from_torch  # imports neither ml_dtypes nor torch
from . import binary, bfp, io, mx, nn, nvfp4  # noqa: E402  (built on the above)

__version__ = "0.1.0"

__all__ = [
    "FixedFormat", "FloatFormat", "Overflow", "QArray", "Rounding", "absolute", "add", "asarray",
    "bfp", "binary", "cast", "conv2d", "concatenate", "decode", "div", "divide", "dot", "encode", "fma", "format", "formats", "io",
    "from_bits", "from_ml_dtypes", "from_torch", "matmul", "mul", "multiply", "mx", "negative", "nn", "nvfp4", "quantize", "result_format", "sqrt", "sub",
    "subtract", "sum", "__version__",
]
