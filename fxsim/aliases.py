"""Names users type for formats: aliases, Q notation, numpy/ml_dtypes/torch
dtypes, and the "did you mean" of an unknown name.

:func:`fxsim.format` asks this module, after the preset names and before
the ``sW.F`` / ``eXmY...`` spellings; every alias stands for one spelling
:func:`fxsim.format` already parses (``ALIASES``), so an alias and its
target are the same format object or equal ones.  Names are
case-insensitive (``BF16``, ``Q3.12``).

Aliases (``ALIASES``)
    The short names of frameworks and papers: ``bf16``, ``fp16``/``half``,
    ``fp32``/``single``, ``fp64``/``double``, ``tf32`` (NVIDIA TensorFloat-32:
    8 exponent bits, 10 fraction bits, IEEE specials, 19 bits), the OCP MX
    element names ``fp8_e4m3`` (= OCP ``float8_e4m3fn``, no inf, as in the OCP
    8-bit floating point specification; the IEEE-like E4M3 with inf stays
    ``float8_e4m3``), ``fp8_e5m2``, ``fp6_e3m2``, ``fp6_e2m3``, ``fp4_e2m1``
    and ``fp4``; ``ue8m0`` (the MX scale, ``float8_e8m0fnu``); ``int4`` and
    ``uint4`` (``s4.0`` / ``u4.0``, ml_dtypes' and torch's names).

Q notation (fixed point), Texas Instruments' convention
    ``Qm.n`` is signed two's complement with ``m`` integer bits *not
    counting the sign* and ``n`` fraction bits: ``1 + m + n`` bits, value
    ``code * 2**-n`` -- ``Q3.12`` is ``s16.12``, ``Q7.8`` is ``s16.8``.
    ``Qn`` is ``Q0.n`` (``Q15`` = ``s16.15``, ``Q31`` = ``s32.31``).
    ``UQm.n`` is unsigned with ``m + n`` bits (``UQ1.15`` = ``u16.15``).
    Sources: TI's convention as described in the Wikipedia article "Q
    (number format)" and Microchip's DSP library manual ("Qn.m ... consisting
    of (m+n+1) bits"); ARM's convention counts the sign bit in ``m``
    (ARM RealView Compilation Tools DUI0066G, section 4.7.9 "Q-format":
    "a 16-bit halfword can hold values in a signed Q4.12 format", "Q31 is
    shorthand for signed Q1.31"), so ARM's Q1.15 is TI's Q0.15 -- fxsim reads
    TI's; write ``sW.F`` to leave no doubt.  ``UQn`` (no dot) is refused:
    ARM reads ``UQ15`` as ``UQ1.15`` (16 bits), TI as ``UQ0.15`` (15 bits).

dtypes (:func:`dtype_name`)
    A numpy dtype or scalar type (``np.float32``, ``np.dtype("int8")``), an
    ml_dtypes one (``ml_dtypes.bfloat16``, ``ml_dtypes.float8_e4m3fn``,
    ``ml_dtypes.int4``) or a torch dtype (``torch.float8_e5m2``) is the
    format of the same name.  Neither ml_dtypes nor torch is imported here:
    a dtype is read by its name.
"""
from __future__ import annotations

import re

#: ``{alias: the spelling fxsim.format parses}``, all lower case.
ALIASES = {
    "bf16": "bfloat16",
    "fp16": "float16", "half": "float16",
    "fp32": "float32", "single": "float32",
    "fp64": "float64", "double": "float64",
    "tf32": "e8m10",
    "fp8_e4m3": "float8_e4m3fn",
    "fp8_e5m2": "float8_e5m2",
    "fp6_e3m2": "float6_e3m2fn",
    "fp6_e2m3": "float6_e2m3fn",
    "fp4_e2m1": "float4_e2m1fn", "fp4": "float4_e2m1fn",
    "ue8m0": "float8_e8m0fnu",
    "int4": "s4.0", "uint4": "u4.0",
}

_Q_RE = re.compile(r"^(u?)q(?:(\d+)\.)?(\d+)$")

#: Q notation in the listing of ``fxsim formats``.
Q_NOTATION = ("Qm.n", "s(1+m+n).n: TI's Q notation (m integer bits besides the sign), "
              "e.g. Q3.12 = s16.12; Qn = Q0.n; UQm.n = u(m+n).n")


def q_notation(text: str):
    """``(word, frac, signed)`` of a Q-notation name (lower case), None if
    ``text`` is not one; ValueError for ``UQn`` without a dot (ambiguous)."""
    match = _Q_RE.match(text)
    if not match:
        return None
    unsigned, m, n = match.groups()
    if unsigned and m is None:
        raise ValueError(f"format {text!r}: UQn is ambiguous (ARM reads UQ15 as UQ1.15, 16 bits; "
                         f"TI's convention as UQ0.15, 15 bits); write UQm.n or 'u<word>.<frac>'")
    m, n = int(m or 0), int(n)
    word = m + n + (0 if unsigned else 1)
    if word < 1:
        raise ValueError(f"format {text!r}: a fixed-point format needs at least one bit")
    return word, n, not unsigned


def resolve(text: str):
    """The spelling an alias stands for (``text`` lower case), or None."""
    return ALIASES.get(text)


def dtype_name(spec):
    """The format name of a numpy/ml_dtypes dtype or scalar type, or of a
    torch dtype; None if ``spec`` is none of these.  ValueError for dtypes
    that have no format (bool, complex, object, long double, ...)."""
    import numpy as np
    if type(spec).__module__ == "torch" and type(spec).__name__ == "dtype":
        name = str(spec).split(".", 1)[-1]
        kind = "torch dtype"
    elif isinstance(spec, np.dtype) or (isinstance(spec, type) and issubclass(spec, np.generic)):
        dtype = np.dtype(spec)
        name = dtype.name
        kind = "numpy dtype"
        if dtype.kind not in "fiuV" or dtype.byteorder == ">" or dtype.fields is not None \
                or dtype.name in ("float128", "float96", "longdouble", "bcomplex32", "complex32"):
            raise ValueError(f"numpy dtype {dtype} has no fxsim format (formats are fixed and "
                             f"floating point numbers: float16/32/64, int/uint, ml_dtypes' types)")
    else:
        return None
    if name in ("bool", "float128", "longdouble") or name.startswith(("complex", "quint", "qint")) \
            or name.endswith("_x2"):
        raise ValueError(f"{kind} {name} has no fxsim format (packed, boolean, complex and "
                         f"quantized dtypes are not number formats)")
    return name


def suggestions(text: str, names) -> list:
    """Up to three known names for an unknown ``text``: those it begins
    (``fp8`` -> ``fp8_e4m3``, ``fp8_e5m2``), then the closest by difflib's
    ratio."""
    import difflib  # only for errors
    names = list(dict.fromkeys(names))
    starts = [n for n in names if text and n.startswith(text)]
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.6)
    return list(dict.fromkeys(starts + close))[:3]


def listing() -> list:
    """Lines of ``alias  target`` for ``fxsim formats``."""
    return [f"{alias:20} = {target}" for alias, target in ALIASES.items()] + \
        [f"{Q_NOTATION[0]:20} = {Q_NOTATION[1]}"]
