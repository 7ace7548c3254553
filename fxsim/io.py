"""Test vectors in and out: bit patterns for hardware testbenches, and a diff.

Text files hold one code (the unsigned integer a register holds) per line,
in the row-major order of the flattened array:

* :func:`write_memh` / :func:`read_memh`: Verilog ``$readmemh``, zero-padded
  lower-case hex, ``ceil(width/4)`` digits;
* :func:`write_memb` / :func:`read_memb`: ``$readmemb``, ``width`` binary digits;
* :func:`write_coe` / :func:`read_coe`: Xilinx ``.coe`` (radix 2 or 16 written,
  2, 10 or 16 read).

Readers skip blank lines and ``//`` comments (``.coe``: lines starting with
``;``), accept several whitespace-separated codes on a line and ``_`` inside
a number (as Verilog does), and refuse ``@address`` lines.  Every code is
checked against the format; an error names the file, the line number, the
text and the format.  A file holds codes only, so the reader is told the
format (and optionally a shape).

:func:`write_npz` / :func:`read_npz` keep several arrays with their formats
spelled out field by field in a JSON manifest (key ``"__manifest__"``, a uint8
array, so ``numpy.load(allow_pickle=False)`` reads the file), plus the
rounding, overflow, seeds and layer names that produced them.

:func:`to_ints` / :func:`from_ints` give nested Python ints (for cocotb);
:func:`read_values` reads numbers to encode (``.npy``, or ``.csv``/``.txt``
text read exactly) and :func:`read_codes` any of these files by extension.
:func:`diff`, which compares a golden array of codes with a device's, lives
in :mod:`fxsim.diff` and is re-exported here.
"""
from __future__ import annotations

import bisect
import decimal
import json
import math
import os
import re

import numpy as np

from . import exact, runtime
from . import formats as _formats
from .array import QArray, bits_dtype, wrap_codes
from .diff import DiffReport, Mismatch, diff, ulp_key  # noqa: F401  (fxsim.io.diff since the start)
from .modes import Overflow, Rounding

__all__ = ["DiffReport", "Mismatch", "diff", "from_ints", "read_codes", "read_coe", "read_memb",
           "read_memh", "read_npz", "read_values", "to_ints", "write_coe", "write_memb", "write_memh",
           "write_npz"]

MANIFEST_KEY = "__manifest__"
MANIFEST_SCHEMA = 1


# ------------------------------------------------------------------ helpers
def _codes(q_or_bits, fmt, what):
    """(flat list of Python int codes, shape, format) of a QArray or of integer codes + fmt."""
    if isinstance(q_or_bits, QArray):
        if fmt is not None and _formats.format(fmt) != q_or_bits.fmt:
            raise ValueError(f"{what}: the QArray is in format {q_or_bits.fmt.name}, "
                             f"not the format {_formats.format(fmt).name} given")
        q = q_or_bits
    else:
        if fmt is None:
            raise ValueError(f"{what}: give fmt= for raw integer codes (or pass a QArray)")
        q = QArray(q_or_bits, fmt)  # checks every code is in [0, 2**width)
    return [int(c) for c in q.bits.reshape(-1).tolist()], q.bits.shape, q.fmt


def _hex_digits(fmt) -> int:
    return max(1, -(-fmt.width // 4))


def _hex(code: int, fmt) -> str:
    return f"{code:0{_hex_digits(fmt)}x}"


def _bin(code: int, fmt) -> str:
    return f"{code:0{fmt.width}b}"


def _finish(codes, fmt, shape, source):
    """A QArray of ``codes`` (already range-checked) with ``shape``."""
    arr = np.empty(len(codes), dtype=bits_dtype(fmt))
    if arr.dtype == object:
        arr[:] = codes
    elif len(codes):
        arr[:] = np.asarray(codes, dtype=np.uint64)
    if shape is not None:
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
        if math.prod(shape) != len(codes):
            raise ValueError(f"{source}: holds {len(codes)} codes of format {fmt.name}, "
                             f"which do not fill shape {shape}")
        arr = arr.reshape(shape)
    return wrap_codes(arr, fmt)


def _parse_code(token: str, base: int, fmt, source: str, lineno: int, line: str) -> int:
    digits = token.replace("_", "")
    allowed = {2: "01", 10: "0123456789", 16: "0123456789abcdefABCDEF"}[base]
    if not digits or any(ch not in allowed for ch in digits):
        raise ValueError(f"{source}, line {lineno}: {line.strip()!r}: {token!r} is not a "
                         f"base-{base} code (format {fmt.name})")
    code = int(digits, base)
    if code >= 1 << fmt.width:
        raise ValueError(f"{source}, line {lineno}: {line.strip()!r}: code {token!r} is out of range "
                         f"for format {fmt.name} (codes are below 2**{fmt.width})")
    return code


def _read_lines(path):
    with open(path, encoding="ascii", errors="strict") as fh:
        return fh.read().splitlines()


_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _spelled(q_or_bits, fmt, base, what, sep="\n") -> tuple[bytes, int]:
    """The codes zero-padded in base 2 or 16, each followed by ``sep``, as
    ASCII bytes, and their count.  Codes held in uint8..uint64 are spelled
    digit by digit with numpy (millions per second); wider ones one by one."""
    if isinstance(q_or_bits, QArray) and q_or_bits.bits.dtype != object and (
            fmt is None or _formats.format(fmt) == q_or_bits.fmt):
        fmt = q_or_bits.fmt
        codes = q_or_bits.bits.reshape(-1).astype(np.uint64)
        bits_per_digit = 4 if base == 16 else 1
        ndig = _hex_digits(fmt) if base == 16 else fmt.width
        shifts = np.arange(ndig - 1, -1, -1, dtype=np.uint64) * np.uint64(bits_per_digit)
        table = np.empty((codes.size, ndig + len(sep)), dtype=np.uint8)
        table[:, :ndig] = _DIGITS[(codes[:, None] >> shifts) & np.uint64(2 ** bits_per_digit - 1)]
        table[:, ndig:] = np.frombuffer(sep.encode("ascii"), dtype=np.uint8)
        return table.tobytes(), int(codes.size)
    codes, _, fmt = _codes(q_or_bits, fmt, what)
    spell = _hex if base == 16 else _bin
    return "".join(spell(c, fmt) + sep for c in codes).encode("ascii"), len(codes)


# ------------------------------------------------------------------ memh / memb
def _write_mem(path, q_or_bits, fmt, base, what):
    data, _ = _spelled(q_or_bits, fmt, base, what)
    with open(path, "wb") as fh:
        fh.write(data)


_DIGIT_VALUE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _DIGIT_VALUE[_c] = _i
    _DIGIT_VALUE[bytes([_c]).upper()[0]] = _i


def _fast_codes(text: str, base: int, fmt):
    """The codes of plain text (tokens of digits only) as a uint64 array, or
    None when the text needs the line-by-line reader (comments, ``_``, ``@``,
    a bad or out-of-range token: that reader names the line)."""
    if fmt.width > 64 or "//" in text or "_" in text or "@" in text:
        return None
    tokens = text.split()
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    try:
        raw = np.array(tokens, dtype="S")
    except UnicodeEncodeError:
        return None
    if raw.itemsize > (16 if base == 16 else 64) + 8:
        return None
    chars = raw.view(np.uint8).reshape(len(tokens), raw.itemsize)
    digits = _DIGIT_VALUE[chars]
    present = chars != 0
    if np.any(present & (digits >= base)):
        return None
    value = np.zeros(len(tokens), dtype=np.uint64)
    top = np.zeros(len(tokens), dtype=bool)  # would the next digit overflow 64 bits?
    for col in range(raw.itemsize):
        here = present[:, col]
        top |= here & (value >= np.uint64(1 << (64 - (4 if base == 16 else 1))))
        value = np.where(here, value * np.uint64(base) + digits[:, col], value)
    if np.any(top) or (fmt.width < 64 and np.any(value >= np.uint64(1 << fmt.width))):
        return None
    return value


def _read_mem(path, fmt, shape, base, what):
    fmt = _formats.format(fmt)
    source = f"{what}({os.fspath(path)!r})"
    with open(path, encoding="ascii", errors="strict") as fh:
        fast = _fast_codes(fh.read(), base, fmt)
    if fast is not None:
        return _finish(fast, fmt, shape, source)
    codes = []
    for lineno, line in enumerate(_read_lines(path), start=1):
        body = line.split("//", 1)[0]
        for token in body.split():
            if token.startswith("@"):
                raise ValueError(f"{source}, line {lineno}: {line.strip()!r}: @address lines are "
                                 f"not supported (format {fmt.name}); write the codes in order")
            codes.append(_parse_code(token, base, fmt, source, lineno, line))
    return _finish(codes, fmt, shape, source)


def write_memh(path, q_or_bits, fmt=None) -> None:
    """Write codes for Verilog ``$readmemh``: one per line, zero-padded hex
    (``ceil(width/4)`` lower-case digits), row-major order.

    ``q_or_bits`` is a QArray, or integer codes together with ``fmt``."""
    _write_mem(path, q_or_bits, fmt, 16, "write_memh")


def read_memh(path, fmt, shape=None) -> QArray:
    """Read a ``$readmemh`` file of codes of ``fmt`` (1-D, or ``shape``)."""
    return _read_mem(path, fmt, shape, 16, "read_memh")


def write_memb(path, q_or_bits, fmt=None) -> None:
    """Write codes for Verilog ``$readmemb``: one per line, ``width`` binary digits."""
    _write_mem(path, q_or_bits, fmt, 2, "write_memb")


def read_memb(path, fmt, shape=None) -> QArray:
    """Read a ``$readmemb`` file of codes of ``fmt`` (1-D, or ``shape``)."""
    return _read_mem(path, fmt, shape, 2, "read_memb")


# ------------------------------------------------------------------ coe
_COE_KEY = re.compile(r"^\s*(memory_initialization_radix|memory_initialization_vector)\s*=(.*)$", re.I)


def write_coe(path, q, radix=16, *, fmt=None) -> None:
    """Write a Xilinx ``.coe`` file: ``memory_initialization_radix=R;``, then
    ``memory_initialization_vector=`` and the codes (radix 2 or 16, zero-padded),
    one per line, separated by commas, the last ending with ``;``."""
    if radix not in (2, 16):
        raise ValueError(f"write_coe: radix must be 2 or 16, got {radix!r}")
    data, count = _spelled(q, fmt, radix, "write_coe", sep=",\n")
    body = b"\n" + data[:-2] if count else b""
    with open(path, "wb") as fh:
        fh.write(f"memory_initialization_radix={radix};\nmemory_initialization_vector=".encode("ascii")
                 + body + b";\n")


def read_coe(path, fmt, shape=None) -> QArray:
    """Read a Xilinx ``.coe`` file of codes of ``fmt`` (radix 2, 10 or 16)."""
    fmt = _formats.format(fmt)
    source = f"read_coe({os.fspath(path)!r})"
    radix = None
    in_vector = done = False
    text, starts = "", []  # the vector's text; (offset, lineno, line) where each line begins
    last = (0, "")
    for lineno, line in enumerate(_read_lines(path), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("//") or (stripped.startswith(";") and not in_vector):
            continue
        where = f"{source}, line {lineno}: {stripped!r}"
        if done:
            raise ValueError(f"{where}: text after the vector's closing ';' (format {fmt.name})")
        rest = line
        if not in_vector:
            match = _COE_KEY.match(line)
            if not match:
                raise ValueError(f"{where}: expected memory_initialization_radix=R; or "
                                 f"memory_initialization_vector= (format {fmt.name})")
            key, rest = match.group(1).lower(), match.group(2)
            if key == "memory_initialization_radix":
                value = rest.strip()
                if not value.endswith(";") or value[:-1].strip() not in ("2", "10", "16"):
                    raise ValueError(f"{where}: the radix must be 2, 10 or 16, ending with ';' "
                                     f"(format {fmt.name})")
                radix = int(value[:-1])
                continue
            if radix is None:
                raise ValueError(f"{where}: memory_initialization_radix must come before the "
                                 f"vector (format {fmt.name})")
            in_vector = True
        if "@" in rest:
            raise ValueError(f"{where}: @address lines are not supported (format {fmt.name})")
        if ";" in rest:
            rest, tail = rest.split(";", 1)
            if tail.strip():
                raise ValueError(f"{where}: text after the vector's closing ';' (format {fmt.name})")
            done = True
        starts.append((len(text), lineno, stripped))
        text += rest + "\n"
        last = (lineno, stripped)
    if not in_vector:
        raise ValueError(f"{source}: no memory_initialization_vector (format {fmt.name})")
    if not done:
        raise ValueError(f"{source}, line {last[0]}: {last[1]!r}: the vector does not end with ';' "
                         f"(format {fmt.name})")
    codes = []
    if text.strip():
        offsets = [s[0] for s in starts]
        pos = 0
        for field in text.split(","):
            lead = len(field) - len(field.lstrip())
            _, lineno, line = starts[max(0, bisect.bisect_right(offsets, pos + lead) - 1)]
            token = field.strip()
            if not token:
                raise ValueError(f"{source}, line {lineno}: {line!r}: an empty code between commas "
                                 f"(format {fmt.name})")
            if len(token.split()) != 1:
                raise ValueError(f"{source}, line {lineno}: {line!r}: codes must be separated by "
                                 f"commas, got {token!r} (format {fmt.name})")
            codes.append(_parse_code(token, radix, fmt, source, lineno, line))
            pos += len(field) + 1
    return _finish(codes, fmt, shape, source)


# ------------------------------------------------------------------ npz + manifest
def format_fields(fmt) -> dict:
    """Every field of ``fmt``, as JSON-ready values (what the manifest stores)."""
    fmt = _formats.format(fmt)
    if fmt.is_float:
        return {"kind": "float", "name": fmt.name, "width": fmt.width, "exp": fmt.exp, "man": fmt.man,
                "bias": fmt.bias, "subnormals": fmt.subnormals, "special": fmt.special}
    fields = {"kind": "fixed", "name": fmt.name, "width": fmt.width, "word": fmt.word,
              "frac": fmt.frac, "signed": fmt.signed}
    if fmt.narrow:  # only when set: manifests of ordinary formats stay as they were
        fields["narrow"] = True
    return fields


def format_from_fields(fields: dict, where: str = "manifest"):
    """The format spelled out by :func:`format_fields` (checked against its name and width)."""
    try:
        kind = fields["kind"]
        if kind == "float":
            fmt = _formats.FloatFormat(fields["exp"], fields["man"], bias=fields["bias"],
                                       subnormals=fields["subnormals"], special=fields["special"])
        elif kind == "fixed":
            fmt = _formats.FixedFormat(fields["word"], fields["frac"], signed=fields["signed"],
                                       narrow=fields.get("narrow", False))
        else:
            raise ValueError(f"unknown kind {kind!r}")
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: cannot rebuild a format from {fields!r}: {exc}") from None
    if fmt.is_float and (fmt.subnormals != fields["subnormals"] or fmt.bias != fields["bias"]):
        raise ValueError(f"{where}: format fields {fields!r} are inconsistent")
    if fields.get("name") != fmt.name or fields.get("width") != fmt.width:
        raise ValueError(f"{where}: format fields {fields!r} describe {fmt.name} "
                         f"({fmt.width} bits), not the name/width recorded")
    return fmt


def _mode_json(value, enum, what):
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(k): _mode_json(v, enum, what) for k, v in value.items()}
    try:
        return enum(str(value.value if isinstance(value, enum) else value)).value
    except ValueError:
        raise ValueError(f"write_npz: unknown {what} mode {value!r}; one of "
                         f"{', '.join(m.value for m in enum)}") from None


def _jsonable(value, what):
    try:
        return json.loads(json.dumps(value, default=lambda o: o.item() if isinstance(o, np.generic)
                                     else o.tolist() if isinstance(o, np.ndarray) else _no(o)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"write_npz: {what} must be JSON-serialisable: {exc}") from None


def _no(o):
    raise TypeError(f"{o!r} of type {type(o).__name__} is not JSON-serialisable")


def write_npz(path, arrays, *, rounding=None, overflow=None, seeds=None, layers=None,
              extra=None) -> None:
    """Save QArrays (``{name: QArray}``) with a JSON manifest.

    Each array is stored as its codes: uint8/16/32/64 by width; codes wider
    than 64 bits as a fixed-width unicode array of zero-padded hex strings.
    The manifest (key ``"__manifest__"``, UTF-8 JSON as a uint8 array) records
    ``fxsim_version``, ``schema``, and per array its ``format`` (every field:
    ``kind``, ``name``, ``width`` and ``word/frac/signed`` or
    ``exp/man/bias/subnormals/special``), ``shape`` and ``dtype``; and the
    ``rounding`` and ``overflow`` (a mode name, or a dict of them, e.g. per
    layer), ``seeds``, ``layers`` and ``extra`` (JSON values) given.
    """
    from . import __version__
    if not isinstance(arrays, dict):
        raise ValueError("write_npz: arrays must be a dict {name: QArray}")
    store, entries = {}, {}
    for name, q in arrays.items():
        if not isinstance(name, str) or not name or name == MANIFEST_KEY or "/" in name:
            raise ValueError(f"write_npz: array name {name!r} is not allowed (a non-empty str "
                             f"without '/', not {MANIFEST_KEY!r})")
        if not isinstance(q, QArray):
            raise ValueError(f"write_npz: array {name!r} is a {type(q).__name__}, not a QArray "
                             "(use fxsim.from_bits(codes, fmt))")
        fmt = q.fmt
        if q.bits.dtype == object:
            digits = _hex_digits(fmt)
            data = np.array([f"{int(c):0{digits}x}" for c in q.bits.reshape(-1)],
                            dtype=f"<U{digits}").reshape(q.shape)
            dtype = "hex"
        else:
            data = np.array(q.bits, order="C", copy=True)
            dtype = str(data.dtype)
        store[name] = data
        entries[name] = {"format": format_fields(fmt), "shape": list(q.shape), "dtype": dtype}
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "fxsim_version": __version__,
        "arrays": entries,
        "rounding": _mode_json(rounding, Rounding, "rounding"),
        "overflow": _mode_json(overflow, Overflow, "overflow"),
        "seeds": _jsonable(seeds, "seeds"),
        "layers": None if layers is None else [str(x) for x in layers],
        "extra": _jsonable(extra, "extra"),
    }
    store[MANIFEST_KEY] = np.frombuffer(json.dumps(manifest).encode("utf-8"),
                                        dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **store)


def read_npz(path):
    """Load a file of :func:`write_npz`: ``({name: QArray}, manifest)``.

    Formats are rebuilt from the manifest's fields (and checked against the
    recorded name and width); shapes, dtypes and every code are checked."""
    source = f"read_npz({os.fspath(path)!r})"
    with np.load(path, allow_pickle=False) as data:
        if MANIFEST_KEY not in data.files:
            raise ValueError(f"{source}: no {MANIFEST_KEY!r} entry; not written by fxsim.io.write_npz")
        try:
            manifest = json.loads(bytes(data[MANIFEST_KEY].astype(np.uint8)).decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{source}: the manifest is not UTF-8 JSON: {exc}") from None
        entries = manifest.get("arrays")
        if not isinstance(entries, dict):
            raise ValueError(f"{source}: the manifest has no 'arrays' table")
        extra_keys = sorted(set(data.files) - set(entries) - {MANIFEST_KEY})
        if extra_keys:
            raise ValueError(f"{source}: arrays {extra_keys} are not in the manifest")
        out = {}
        for name, entry in entries.items():
            where = f"{source}, array {name!r}"
            if name not in data.files:
                raise ValueError(f"{where}: listed in the manifest but missing from the file")
            fmt = format_from_fields(entry.get("format", {}), where)
            arr = data[name]
            shape = tuple(entry.get("shape", ()))
            if arr.shape != shape:
                raise ValueError(f"{where}: shape {arr.shape} differs from the manifest's {shape} "
                                 f"(format {fmt.name})")
            want = "hex" if bits_dtype(fmt) == object else str(bits_dtype(fmt))
            if entry.get("dtype") != want:
                raise ValueError(f"{where}: dtype {entry.get('dtype')!r} in the manifest; format "
                                 f"{fmt.name} is stored as {want}")
            if want == "hex":
                if arr.dtype.kind != "U":
                    raise ValueError(f"{where}: expected hex strings for format {fmt.name}, "
                                     f"got dtype {arr.dtype}")
                flat = arr.reshape(-1)
                codes = np.empty(flat.size, dtype=object)
                for i, text in enumerate(flat.tolist()):
                    if not text or not re.fullmatch(r"[0-9a-fA-F]+", text):
                        raise ValueError(f"{where}: {text!r} at index "
                                         f"{tuple(int(j) for j in np.unravel_index(i, shape))} is "
                                         f"not a hex code (format {fmt.name})")
                    codes[i] = int(text, 16)
                arr = codes.reshape(shape)
            elif str(arr.dtype) != want:
                raise ValueError(f"{where}: dtype {arr.dtype} in the file; format {fmt.name} "
                                 f"is stored as {want}")
            try:
                out[name] = QArray(arr, fmt)  # checks every code is in [0, 2**width)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
    return out, manifest


# ------------------------------------------------------------------ files by extension
#: Extensions :func:`read_codes` knows, and what each holds.
CODE_FILES = {".memh": "hex codes ($readmemh)", ".hex": "hex codes ($readmemh)",
              ".mem": "hex codes ($readmemh)", ".memb": "binary codes ($readmemb)",
              ".coe": "Xilinx .coe", ".npz": "fxsim .npz with a manifest",
              ".npy": "an integer array of codes"}


def read_values(path) -> np.ndarray:
    """Numbers to encode: a ``.npy`` array (any real or integer dtype) or a
    ``.csv``/``.txt`` file of numbers separated by commas or whitespace (one
    row per line, ``#`` comments).  Values are read as stored, not rounded:
    a text number is read exactly, as :func:`fxsim.exact.parse_number` reads
    it (``0.1`` is one tenth, not the float64 nearest to it).

    A text file gives float64 when every number in it is exactly a float64
    (integers up to 2**53, ``2.5``, ``-0``, ``nan``, ``inf``, ...); otherwise
    an object array holding a Fraction for each number that is not (and the
    float of each that is), which ``fxsim.encode`` rounds once, exactly."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        arr = np.load(path, allow_pickle=False)
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"read_values({path!r}): dtype {arr.dtype} is not a real number type")
        return arr
    if ext in (".csv", ".txt"):
        with open(path, encoding="utf-8") as fh:
            first = next((line for line in fh if line.strip() and not line.lstrip().startswith("#")), "")
        delimiter = "," if "," in first else None
        try:
            arr = np.loadtxt(path, delimiter=delimiter, dtype=np.float64, ndmin=1)
        except ValueError as exc:
            raise ValueError(f"read_values({path!r}): not a table of numbers: {exc}") from None
        return _exact_text_values(path, arr, delimiter)
    raise ValueError(f"read_values({path!r}): unknown extension {ext!r}; give a .npy, .csv or .txt file")


def _exact_text_values(path, floats, delimiter):
    """The numbers of a text file exactly: ``floats`` (the file read as
    float64) if each number is its float64 value exactly, else an object
    array with ``exact.parse_number`` of each number that is not.

    The fast path: ``Decimal(text) == float`` compares the two exactly (a
    float64 is a finite decimal), so only the numbers float64 does not hold
    -- ``0.1``, more digits than float64 keeps, beyond its range -- are
    parsed as Fractions."""
    if floats.size == 0:
        return floats
    tokens = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0]
            if line.strip():
                tokens.extend(line.split(delimiter))
    if len(tokens) != floats.size:  # numpy read the same numbers, row by row
        raise ValueError(f"read_values({path!r}): not a table of numbers: numpy read "
                         f"{floats.size} numbers, fxsim {len(tokens)}")
    inexact = []
    for i, (text, value) in enumerate(zip(tokens, floats.reshape(-1).tolist())):
        try:
            as_decimal = decimal.Decimal(text)
        except decimal.InvalidOperation:
            inexact.append(i)
            continue
        if not (as_decimal == value if math.isfinite(value) else not as_decimal.is_finite()):
            inexact.append(i)
    if not inexact:
        return floats
    out = floats.astype(object)
    flat = out.reshape(-1)
    for i in inexact:
        try:
            flat[i] = exact.parse_number(tokens[i])
        except ValueError as exc:
            raise ValueError(f"read_values({path!r}): not a table of numbers: at index "
                             f"{runtime.format_index(i, floats.shape)}: {exc}") from None
    return out


def read_codes(path, fmt=None, *, array=None, shape=None) -> QArray:
    """Bit patterns from any file fxsim writes, chosen by extension
    (:data:`CODE_FILES`): memh/hex/mem, memb, coe and npy need ``fmt``; an
    ``.npz`` carries its formats (``array`` picks one when it holds several;
    ``fmt``, if given, must match)."""
    where = os.fspath(path)
    ext = os.path.splitext(where)[1].lower()
    if ext == ".npz":
        arrays, _ = read_npz(path)
        if array is None:
            if len(arrays) != 1:
                raise ValueError(f"read_codes({where!r}): holds arrays {sorted(arrays)}; name one "
                                 "(array=, or --array on the command line)")
            array = next(iter(arrays))
        if array not in arrays:
            raise ValueError(f"read_codes({where!r}): no array {array!r}; it holds {sorted(arrays)}")
        q = arrays[array]
        if fmt is not None and _formats.format(fmt) != q.fmt:
            raise ValueError(f"read_codes({where!r}): array {array!r} is in format {q.fmt.name}, "
                             f"not {_formats.format(fmt).name}")
        return q if shape is None else q.reshape(shape)
    if ext not in CODE_FILES:
        raise ValueError(f"read_codes({where!r}): unknown extension {ext!r}; known: "
                         + ", ".join(f"{e} ({what})" for e, what in CODE_FILES.items()))
    if fmt is None:
        raise ValueError(f"read_codes({where!r}): a {ext} file holds bare codes; give its format "
                         "(fmt=, or --format on the command line)")
    if ext == ".npy":
        arr = np.load(path, allow_pickle=False)
        if arr.dtype.kind not in "iu":
            raise ValueError(f"read_codes({where!r}): dtype {arr.dtype}; codes must be integers "
                             f"(format {_formats.format(fmt).name})")
        q = QArray(arr.astype(np.uint64) if arr.dtype.kind == "i" and (arr >= 0).all() else arr, fmt)
        return q if shape is None else q.reshape(shape)
    reader = {".memb": read_memb, ".coe": read_coe}.get(ext, read_memh)
    return reader(path, fmt, shape)


# ------------------------------------------------------------------ cocotb
def to_ints(q, fmt=None) -> list:
    """The codes as nested Python lists of ints (a 0-d array gives one int)."""
    if isinstance(q, QArray):
        if fmt is not None and _formats.format(fmt) != q.fmt:
            raise ValueError(f"to_ints: the QArray is in format {q.fmt.name}, not {_formats.format(fmt).name}")
    else:
        if fmt is None:
            raise ValueError("to_ints: give fmt= for raw integer codes (or pass a QArray)")
        q = QArray(q, fmt)
    out = q.bits.tolist()
    return _intify(out)


def _intify(x):
    return [_intify(v) for v in x] if isinstance(x, list) else int(x)


def from_ints(values, fmt) -> QArray:
    """A QArray of the codes ``values`` (nested lists of ints) in ``fmt``; every code is checked."""
    return QArray(values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object),
                  _formats.format(fmt))
