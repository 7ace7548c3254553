"""Small arrays of codes as a SystemVerilog package of ``localparam``\\ s --
a ROM of a lookup table, BN thresholds, a handful of weights::

    // fxsim 0.1.0: ...
    package fxsim_rom;
      // thresholds: format s16.0 (...), shape (4,)
      localparam logic [15:0] THRESHOLDS [4] = '{16'h0003, 16'hfffe, 16'h0010, 16'h0000};
    endpackage

Each element is a sized hex literal of the code (``W'h..``, ``W`` the
format's width, ``ceil(W/4)`` digits).  Element ``[i]`` of the unpacked
array is code ``i`` of the array (multi-dimensional arrays nest:
``NAME [2][3]``, ``NAME[i][j]`` = ``q[i, j]``); a 0-d array is a scalar
``localparam logic [W-1:0] NAME = W'h..;``.  Arrays of more than
:data:`MAX_ELEMENTS` codes are refused: a package of localparams is for
small tables (use :func:`fxsim.io.write_memh` and ``$readmemh`` for memories).
"""
from __future__ import annotations

import math
import re

from .array import QArray

__all__ = ["MAX_ELEMENTS", "write_sv_package"]

#: the most codes one localparam may hold (tools slow down on huge literals)
MAX_ELEMENTS = 4096

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
#: SystemVerilog keywords a table might be named after by accident
_KEYWORDS = {"package", "endpackage", "module", "endmodule", "logic", "bit", "byte", "int", "integer",
             "localparam", "parameter", "input", "output", "inout", "wire", "reg", "begin", "end",
             "function", "task", "class", "typedef", "struct", "enum", "signed", "unsigned",
             "assign", "always", "initial", "if", "else", "for", "case", "default", "real", "type",
             "const", "string", "shortint", "longint", "time", "generate", "import", "export"}


def _name(name, what):
    if not isinstance(name, str) or not _IDENT.match(name) or name.lower() in _KEYWORDS:
        raise ValueError(f"write_sv_package: {what} {name!r} is not a SystemVerilog identifier "
                         "(letters, digits, _ and $, not starting with a digit, not a keyword)")
    return name


def _literal(codes, shape, width, digits):
    if not shape:
        return f"{width}'h{int(codes[0]):0{digits}x}"
    step = math.prod(shape[1:])
    return "'{" + ", ".join(_literal(codes[i * step:(i + 1) * step], shape[1:], width, digits)
                            for i in range(shape[0])) + "}"


def write_sv_package(path, arrays, package="fxsim_rom", *, max_elements=MAX_ELEMENTS) -> None:
    """Write ``arrays`` (``{NAME: QArray}``) as one SystemVerilog package
    ``package`` of ``localparam logic [W-1:0] NAME [N] = '{...};``.

    Names must be SystemVerilog identifiers; an array of more than
    ``max_elements`` codes (default 4096), or an empty one, is refused."""
    from . import __version__
    if not isinstance(arrays, dict) or not arrays:
        raise ValueError("write_sv_package: arrays must be a non-empty dict {NAME: QArray}")
    lines = [f"// fxsim {__version__}: localparam tables; each element is the code (W'h..) of "
             "its format, element [i] = code i (row-major)",
             f"package {_name(package, 'package name')};"]
    for name, q in arrays.items():
        _name(name, "array name")
        if not isinstance(q, QArray):
            raise ValueError(f"write_sv_package: array {name!r} is a {type(q).__name__}, not a "
                             "QArray (use fxsim.from_bits(codes, fmt))")
        if q.size > max_elements or q.size == 0:
            raise ValueError(f"write_sv_package: array {name!r} (format {q.fmt.name}) has {q.size} "
                             f"codes; a localparam table holds 1 to {max_elements} (write a memh "
                             "file and $readmemh it instead)")
        width = q.fmt.width
        digits = max(1, -(-width // 4))
        codes = [int(c) for c in q.bits.reshape(-1).tolist()]
        dims = "".join(f" [{n}]" for n in q.shape)
        lines.append(f"  // {name}: format {q.fmt.name} ({q.fmt!r}), shape {q.shape}")
        lines.append(f"  localparam logic [{width - 1}:0] {name}{dims} = "
                     f"{_literal(codes, q.shape, width, digits)};")
    lines.append("endpackage")
    with open(path, "w", encoding="ascii") as fh:
        fh.write("\n".join(lines) + "\n")
