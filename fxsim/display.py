"""How a QArray shows itself: integer formats as integers, hex and binary
views of the codes, and an HTML table for Jupyter (``_repr_html_``).

* :func:`hex_codes` / :func:`bin_codes` (``q.hex()``, ``q.bin()``): numpy
  arrays of strings of ``q``'s shape (a 0-d array for a 0-d QArray):
  ``ceil(width/4)`` lower-case hex digits, or ``width`` binary digits, zero
  padded, no prefix -- the digits a memh/memb file holds.
* :func:`integer_text` (``repr``/``str`` of a fixed-point format with no
  fraction bits, ``frac <= 0``: int8, s32.0, ...): exact integers, never
  through float64.
* :func:`html` (``q._repr_html_()``): one row per element -- index, code in
  hex, the bits coloured by field (sign / exponent / mantissa for floats;
  sign / integer / fraction for fixed point) and the exact value -- for the
  first :data:`HTML_LIMIT` elements in row-major order, then a row
  ``... N more``.

Everything here reads codes; nothing is rounded.  Values are shown exactly
(a fraction with its float64 value beside it when float64 does not hold it).
"""
from __future__ import annotations

import html as _html
from fractions import Fraction

import numpy as np

from . import exact

__all__ = ["HTML_LIMIT", "bin_codes", "hex_codes", "html", "integer_text"]

#: rows of the HTML table (every code of an 8-bit format fits)
HTML_LIMIT = 256

#: colours of the bit fields in the HTML table
COLOURS = {"sign": "#c0392b", "exponent": "#2e6fba", "mantissa": "#1e8449",
           "integer": "#2e6fba", "fraction": "#1e8449"}


def _digits(codes, fmt, base):
    n = max(1, -(-fmt.width // 4)) if base == 16 else fmt.width
    spec = f"0{n}x" if base == 16 else f"0{n}b"
    flat = [format(int(c), spec) for c in np.reshape(codes, -1).tolist()]
    return np.array(flat, dtype=f"<U{n}").reshape(np.shape(codes))


def hex_codes(q) -> np.ndarray:
    """The codes as zero-padded lower-case hex strings (``ceil(width/4)``
    digits, no ``0x``), a numpy ``<U`` array of ``q``'s shape."""
    return _digits(q.bits, q.fmt, 16)


def bin_codes(q) -> np.ndarray:
    """The codes as ``width`` binary digits (sign bit first), a numpy ``<U``
    array of ``q``'s shape."""
    return _digits(q.bits, q.fmt, 2)


def is_integer_format(fmt) -> bool:
    """Does every code of ``fmt`` hold an integer (fixed point, ``frac <= 0``)?"""
    return not fmt.is_float and fmt.frac <= 0


def _integers(q):
    n = exact.signed_ints(q.bits, q.fmt)  # value = n * 2**-frac, frac <= 0
    if q.fmt.frac == 0:
        return n
    shift = -q.fmt.frac
    return np.asarray(np.frompyfunc(lambda v: int(v) << shift, 1, 1)(n), dtype=object)


def integer_text(q, style: str):
    """``repr`` (``style="repr"``) or ``str`` text of a QArray of an integer
    format, its values printed as integers; None for other formats."""
    if not is_integer_format(q.fmt):
        return None
    values = _integers(q)
    if style == "repr":
        body = np.array2string(values, separator=", ", prefix="QArray(",
                               formatter={"all": lambda v: str(int(v))})
        return f"QArray({body}, fmt={q.fmt.name})"
    body = np.array2string(values, formatter={"all": lambda v: str(int(v))})
    return f"{body} ({q.fmt.name})"


def field_spans(fmt):
    """``[(field, number of bits)]`` from the most significant bit down."""
    spans = [("sign", 1)] if fmt.signed else []
    if fmt.is_float:
        spans += [("exponent", fmt.exp), ("mantissa", fmt.man)]
    else:
        rest = fmt.width - len(spans)
        frac = min(max(fmt.frac, 0), rest)
        spans += [("integer", rest - frac), ("fraction", frac)]
    return [(name, n) for name, n in spans if n > 0]


def _value_text(value) -> str:
    if isinstance(value, float):
        return repr(value)
    if value.denominator == 1:
        return str(value.numerator)
    as_float = float(value)
    return f"{value} ({as_float!r})" if Fraction(as_float) == value else f"{value} (~{as_float!r})"


def _bits_html(code: int, fmt, spans) -> str:
    bits = format(code, f"0{fmt.width}b")
    out, at = [], 0
    for name, n in spans:
        out.append(f'<span class="fx-{name}" style="color:{COLOURS[name]}" title="{name}">'
                   f"{bits[at:at + n]}</span>")
        at += n
    return "&#8239;".join(out)


def html(q, limit: int = HTML_LIMIT) -> str:
    """An HTML table of ``q``: index, hex code, bits coloured by field, exact
    value; the first ``limit`` elements (row-major), then ``... N more``."""
    fmt = q.fmt
    spans = field_spans(fmt)
    flat = q.bits.reshape(-1)
    shown = min(flat.size, limit)
    codes = [int(c) for c in flat[:shown].tolist()]
    values = [exact.code_value(c, fmt) for c in codes]
    hexes = hex_codes(q).reshape(-1)[:shown]
    legend = " ".join(f'<span style="color:{COLOURS[name]}">{name} ({n})</span>' for name, n in spans)
    rows = []
    for i, (code, value, hx) in enumerate(zip(codes, values, hexes.tolist())):
        index = tuple(int(j) for j in np.unravel_index(i, q.shape)) if q.shape else ()
        if isinstance(value, Fraction) and value == 0 and fmt.signed and fmt.is_float \
                and code >> (fmt.width - 1):
            text = "-0"
        else:
            text = _value_text(value)
        rows.append(f"<tr><td>{index}</td><td><code>0x{hx}</code></td>"
                    f"<td><code>{_bits_html(code, fmt, spans)}</code></td>"
                    f"<td>{_html.escape(text)}</td></tr>")
    if flat.size > shown:
        rows.append(f'<tr><td colspan="4">&#8230; {flat.size - shown} more (of {flat.size}; the '
                    f"table shows the first {shown} in row-major order)</td></tr>")
    return (f'<div class="fxsim-qarray"><div><b>QArray</b> {_html.escape(fmt.name)} '
            f"(<code>{_html.escape(repr(fmt))}</code>), shape {q.shape}, {fmt.width}-bit codes; "
            f"bits: {legend}</div>"
            '<table><thead><tr><th>index</th><th>code</th><th>bits</th><th>value</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")
