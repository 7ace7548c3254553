"""Executable specification of fxsim's number formats and rounding.

A slow, obviously-correct oracle in pure Python: exact ``int`` and
``fractions.Fraction`` arithmetic, nothing from fxsim, nothing outside the
standard library.  Tests compare the fast implementation against it.

Reading order for a student:

1. ``rounding.py``  -- ``round_to_integer``: an exact rational -> an integer.
2. ``formats.py``   -- what a fixed/float format is, where its special codes are.
3. ``codec.py``     -- ``decode`` (code -> exact value) and ``encode``
   (value -> code): divide by the grid spacing, round, rebuild the code,
   handle overflow.
4. ``arith.py``     -- ``add sub mul div fma sqrt`` on codes: the exact result
   (NaN, infinity and signed-zero rules first), then one ``encode``.
5. ``linalg.py``    -- ``matmul`` and ``conv2d``: products, then an
   accumulator that rounds every addition in a stated order.
"""

from .arith import add, div, fma, mul, sqrt, sub
from .codec import decode, default_overflow, encode, value_of
from .formats import FixedFormat, FloatFormat, all_codes
from .linalg import conv2d, matmul
from .rounding import MODES, round_to_integer

__all__ = [
    "MODES", "FixedFormat", "FloatFormat", "default_overflow", "decode", "encode",
    "round_to_integer", "value_of", "all_codes",
    "add", "sub", "mul", "div", "fma", "sqrt",
    "matmul", "conv2d",
]
