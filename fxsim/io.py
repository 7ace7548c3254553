"""Test vectors in and out: bit patterns for hardware testbenches, and a diff.

This module is the public face of fxsim's file I/O; the pieces live beside it:

* memory files (:mod:`fxsim.io_memory`): :func:`write_memh` /
  :func:`read_memh` (Verilog ``$readmemh``), :func:`write_memb` /
  :func:`read_memb` (``$readmemb``), :func:`write_coe` / :func:`read_coe`
  (Xilinx ``.coe``, radix 2, 10 or 16) -- one code per word or ``lanes``
  codes packed per word (LSB-first by default), ``@address`` lines, a
  header comment, ``x``/``z`` digits of a device's dump;
* :func:`write_sv_package` (:mod:`fxsim.io_sv`): small tables as a
  SystemVerilog package of ``localparam`` arrays;
* integer views (:mod:`fxsim.io_ints`): :func:`to_ints` / :func:`from_ints`
  (nested Python ints for cocotb, unsigned or two's complement) and
  :func:`int_values` (the exact values of an integer-valued result as ints,
  never through float64);
* here: :func:`write_npz` / :func:`read_npz` keep several arrays with their
  formats spelled out field by field in a JSON manifest (key
  ``"__manifest__"``, a uint8 array, so ``numpy.load(allow_pickle=False)``
  reads the file), plus the rounding, overflow, seeds and layer names that
  produced them; :func:`read_values` reads numbers to encode (``.npy``, or
  ``.csv``/``.txt`` text read exactly) and :func:`read_codes` any of these
  files by extension.

:func:`diff`, which compares a golden array of codes with a device's, lives
in :mod:`fxsim.diff` and is re-exported here.
"""
from __future__ import annotations

import decimal
import json
import math
import os
import re

import numpy as np

from . import exact, runtime
from . import formats as _formats
from .array import QArray, bits_dtype
from .diff import DiffReport, Mismatch, diff, ulp_key  # noqa: F401  (fxsim.io.diff since the start)
from .io_ints import codes_of, from_ints, int_values, to_ints  # noqa: F401
from .io_memory import read_coe, read_memb, read_memh, write_coe, write_memb, write_memh  # noqa: F401
from .io_sv import write_sv_package  # noqa: F401
from .modes import Overflow, Rounding

__all__ = ["DiffReport", "Mismatch", "diff", "from_ints", "int_values", "read_codes", "read_coe",
           "read_memb", "read_memh", "read_npz", "read_values", "to_ints", "write_coe", "write_memb",
           "write_memh", "write_npz", "write_sv_package"]

MANIFEST_KEY = "__manifest__"
MANIFEST_SCHEMA = 1


def _hex_digits(fmt) -> int:
    return max(1, -(-fmt.width // 4))


# ------------------------------------------------------------------ npz + manifest
def format_fields(fmt) -> dict:
    """Every field of ``fmt``, as JSON-ready values (what the manifest stores)."""
    fmt = _formats.format(fmt)
    if fmt.is_float:
        fields = {"kind": "float", "name": fmt.name, "width": fmt.width, "exp": fmt.exp,
                  "man": fmt.man, "bias": fmt.bias, "subnormals": fmt.subnormals,
                  "special": fmt.special}
        if not fmt.signed and fmt.special != "e8m0":  # only when set (E8M0 is always unsigned)
            fields["signed"] = False
        return fields
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
                                       subnormals=fields["subnormals"], special=fields["special"],
                                       signed=fields.get("signed", True))
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


def read_codes(path, fmt=None, *, array=None, shape=None, lanes=1, lane_order="lsb",
               with_unknown=False):
    """Bit patterns from any file fxsim writes, chosen by extension
    (:data:`CODE_FILES`): memh/hex/mem, memb, coe and npy need ``fmt``; an
    ``.npz`` carries its formats (``array`` picks one when it holds several;
    ``fmt``, if given, must match).  ``lanes``/``lane_order`` read packed
    memory words (text files only); ``with_unknown=True`` returns
    ``(q, unknown bits)`` (see :mod:`fxsim.io_memory`; all zero for .npz/.npy)."""
    where = os.fspath(path)
    ext = os.path.splitext(where)[1].lower()
    if ext in (".npz", ".npy") and lanes != 1:
        raise ValueError(f"read_codes({where!r}): lanes={lanes!r} is for text memory files; "
                         f"a {ext} file holds one code per element")
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
        q = q if shape is None else q.reshape(shape)
        return (q, np.zeros(q.shape, q.bits.dtype)) if with_unknown else q
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
        q = from_ints(arr, fmt, what=f"read_codes({where!r})")
        q = q if shape is None else q.reshape(shape)
        return (q, np.zeros(q.shape, q.bits.dtype)) if with_unknown else q
    reader = {".memb": read_memb, ".coe": read_coe}.get(ext, read_memh)
    return reader(path, fmt, shape, lanes=lanes, lane_order=lane_order, with_unknown=with_unknown)
