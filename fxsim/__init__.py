"""fxsim: a bit-exact reference simulator of low-precision arithmetic.

Every value fxsim produces passes through one rounding function
(``fxsim._round.round_code``); see README.md for the semantic contract.
"""
from . import _jit  # noqa: F401  (must come first: sets Numba's cache directory)
from . import formats
from .codec import decode, encode, quantize
from .formats import FixedFormat, FloatFormat, format
from .modes import Overflow, Rounding

__version__ = "0.1.0"

__all__ = [
    "FixedFormat", "FloatFormat", "Overflow", "Rounding", "decode", "encode", "format",
    "formats", "quantize", "__version__",
]
