"""Memory files for hardware testbenches: ``$readmemh`` / ``$readmemb`` text
and Xilinx ``.coe``, written and read.

**Words and lanes.**  A file holds one memory *word* per line.  By default a
word is one code; with ``lanes=N`` a word packs N consecutive codes of the
flattened (row-major) array, ``N * width`` bits, e.g. a 128-bit bus of
sixteen FP8 lanes.  Lane order: ``lane_order="lsb"`` (the default) puts code
``N*w + 0`` of word ``w`` in the least significant bits ``[width-1:0]``,
code ``N*w + 1`` in ``[2*width-1:width]`` and so on; ``"msb"`` puts lane 0 in
the most significant bits.  The array's size must be a multiple of N.

**Digits.**  memh: ``ceil(N*width / 4)`` lower-case hex digits per word; when
``N*width`` is not a multiple of 4 the word is padded *above* its top lane
with 1 to 3 zero bits (a 6-bit code 0x3f is ``3f``; two 6-bit lanes
``0x3f, 0x01`` LSB-first are the 12-bit word ``07f``).  memb: ``N*width``
binary digits.  coe: radix 16 (as memh), 2 (as memb) or 10 (plain decimal).
Readers refuse a word with a bit set in the padding (it belongs to no lane).

**Addresses.**  ``address=A`` writes an ``@A`` line first (hex, counted in
words, as ``$readmemh`` reads it).  Readers accept ``@address`` lines
anywhere: the words that follow go to consecutive addresses from there.
The result holds addresses ``base .. base + n - 1`` (``base``: the lowest
address in the file unless given); an address written twice or left out
between them is an error naming the line.  ``.coe`` has no addresses.

**Header.**  ``header=True`` starts the file with comment lines stating the
fxsim version, the format, the shape and the lane packing: ``//`` lines in
memh/memb (``$readmemh`` skips them), ``;`` lines in ``.coe``.  Readers skip
all comments (``//`` and ``/* */`` in memh/memb).

**Unknown digits.**  A device's dump may hold ``x``/``z`` (or ``?``) digits.
Readers refuse them by default; ``with_unknown=True`` returns
``(q, unknown)``: ``q`` with every unknown bit read as 0 and ``unknown``
(the code dtype, the array's shape) holding, per code, the bits that were
``x``/``z`` -- :func:`fxsim.diff.diff` counts those codes as mismatches
(field ``"unknown"``).  A hex digit covers 4 bits, a binary digit 1.

Every code is checked against the format; an error names the file, the line,
its text and the format.
"""
from __future__ import annotations

import math
import os
import re

import numpy as np

from . import formats as _formats
from .array import QArray, bits_dtype, wrap_codes
from .io_ints import codes_of

__all__ = ["read_coe", "read_memb", "read_memh", "write_coe", "write_memb", "write_memh"]

_UNKNOWN = "xXzZ?"
_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DIGIT_VALUE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _DIGIT_VALUE[_c] = _i
    _DIGIT_VALUE[bytes([_c]).upper()[0]] = _i


# ------------------------------------------------------------------ codes and words
def codes_and_format(q_or_bits, fmt, what):
    """(flat code array, shape, format) of a QArray, or of integer codes + fmt
    (negative ints are two's complement for signed formats)."""
    if isinstance(q_or_bits, QArray):
        if fmt is not None and _formats.format(fmt) != q_or_bits.fmt:
            raise ValueError(f"{what}: the QArray is in format {q_or_bits.fmt.name}, "
                             f"not the format {_formats.format(fmt).name} given")
        return q_or_bits.bits.reshape(-1), q_or_bits.shape, q_or_bits.fmt
    if fmt is None:
        raise ValueError(f"{what}: give fmt= for raw integer codes (or pass a QArray)")
    fmt = _formats.format(fmt)
    codes = codes_of(q_or_bits, fmt, what=what)
    return codes.reshape(-1), codes.shape, fmt


def _check_packing(lanes, lane_order, fmt, what):
    if isinstance(lanes, bool) or not isinstance(lanes, (int, np.integer)) or lanes < 1:
        raise ValueError(f"{what}: lanes must be a whole number >= 1, got {lanes!r} (format {fmt.name})")
    if lane_order not in ("lsb", "msb"):
        raise ValueError(f"{what}: lane_order must be 'lsb' (lane 0 in the low bits) or 'msb', "
                         f"got {lane_order!r} (format {fmt.name})")
    return int(lanes)


def _shifts(lanes, width, lane_order):
    """The bit offset of each lane in a word."""
    return [(i if lane_order == "lsb" else lanes - 1 - i) * width for i in range(lanes)]


def words_of(codes, fmt, lanes, lane_order, what):
    """The memory words packing ``lanes`` codes each: a uint64 array when a
    word fits 64 bits, else a list of Python ints."""
    if codes.size % lanes:
        raise ValueError(f"{what}: {codes.size} codes of format {fmt.name} do not fill words of "
                         f"{lanes} lanes; give a multiple of {lanes} codes")
    shifts = _shifts(lanes, fmt.width, lane_order)
    if lanes * fmt.width <= 64 and codes.dtype != object:
        grid = codes.astype(np.uint64).reshape(-1, lanes)
        words = np.zeros(grid.shape[0], dtype=np.uint64)
        for i, s in enumerate(shifts):
            words |= grid[:, i] << np.uint64(s)
        return words
    ints = [int(c) for c in codes.tolist()]
    return [sum(ints[w * lanes + i] << s for i, s in enumerate(shifts))
            for w in range(len(ints) // lanes)]


def _spell(words, ndig, base, sep):
    """Words zero-padded to ``ndig`` digits of base 2/16 (base 10: unpadded),
    each followed by ``sep``, as ASCII bytes."""
    if isinstance(words, np.ndarray) and base != 10:
        bits_per_digit = 4 if base == 16 else 1
        shifts = np.arange(ndig - 1, -1, -1, dtype=np.uint64) * np.uint64(bits_per_digit)
        table = np.empty((words.size, ndig + len(sep)), dtype=np.uint8)
        table[:, :ndig] = _DIGITS[(words[:, None] >> shifts) & np.uint64(2 ** bits_per_digit - 1)]
        table[:, ndig:] = np.frombuffer(sep.encode("ascii"), dtype=np.uint8)
        return table.tobytes()
    spec = {16: f"0{ndig}x", 2: f"0{ndig}b", 10: "d"}[base]
    return "".join(format(int(w), spec) + sep for w in words).encode("ascii")


def _ndigits(bits, base):
    return max(1, -(-bits // 4)) if base == 16 else max(1, bits) if base == 2 else None


def header_lines(fmt, shape, lanes, lane_order, base, what="memh"):
    """The header's text lines (without the comment marker)."""
    from . import __version__
    word = lanes * fmt.width
    lines = [f"fxsim {__version__}: format {fmt.name} ({fmt!r}), {fmt.width}-bit codes, "
             f"shape {tuple(shape)}, {math.prod(shape)} codes in row-major order"]
    if lanes == 1:
        lines.append("one code per word")
    else:
        order = "lane 0 in the least significant bits (LSB-first)" if lane_order == "lsb" else \
            "lane 0 in the most significant bits (MSB-first)"
        lines.append(f"{lanes} lanes of {fmt.width} bits per {word}-bit word, {order}; "
                     f"word w holds codes {lanes}*w .. {lanes}*w+{lanes - 1}")
    if base == 16 and word % 4:
        lines.append(f"{_ndigits(word, 16)} hex digits per word: {4 - word % 4} zero padding bit(s) "
                     f"above bit {word - 1}")
    return lines


# ------------------------------------------------------------------ writing
def _write_mem(path, q_or_bits, fmt, base, what, lanes, lane_order, address, header):
    codes, shape, fmt = codes_and_format(q_or_bits, fmt, what)
    lanes = _check_packing(lanes, lane_order, fmt, what)
    words = words_of(codes, fmt, lanes, lane_order, what)
    head = b""
    if header:
        head = "".join(f"// {line}\n" for line in header_lines(fmt, shape, lanes, lane_order, base)
                       ).encode("ascii")
    if address is not None:
        if isinstance(address, bool) or not isinstance(address, (int, np.integer)) or address < 0:
            raise ValueError(f"{what}: address must be a whole number >= 0 (in words), got "
                             f"{address!r} (format {fmt.name})")
        head += f"@{int(address):x}\n".encode("ascii")
    with open(path, "wb") as fh:
        fh.write(head + _spell(words, _ndigits(lanes * fmt.width, base), base, "\n"))


def write_memh(path, q_or_bits, fmt=None, *, lanes=1, lane_order="lsb", address=None,
               header=False) -> None:
    """Write codes for Verilog ``$readmemh``: one word per line, zero-padded
    lower-case hex (``ceil(lanes*width/4)`` digits), row-major order.

    ``q_or_bits``: a QArray, or integer codes with ``fmt`` (negative ints
    are two's complement for signed formats).  ``lanes``/``lane_order``:
    codes per word and their order (LSB-first by default); ``address``: an
    ``@address`` line first (hex, in words); ``header``: ``//`` comment
    lines naming version, format, shape and packing (see the module doc)."""
    _write_mem(path, q_or_bits, fmt, 16, "write_memh", lanes, lane_order, address, header)


def write_memb(path, q_or_bits, fmt=None, *, lanes=1, lane_order="lsb", address=None,
               header=False) -> None:
    """Write codes for Verilog ``$readmemb``: one word per line, ``lanes*width``
    binary digits (options as :func:`write_memh`)."""
    _write_mem(path, q_or_bits, fmt, 2, "write_memb", lanes, lane_order, address, header)


def write_coe(path, q, radix=16, *, fmt=None, lanes=1, lane_order="lsb", header=False) -> None:
    """Write a Xilinx ``.coe`` file: ``memory_initialization_radix=R;``, then
    ``memory_initialization_vector=`` and the words, one per line, separated
    by commas, the last ending with ``;``.  Radix 16 or 2: zero-padded as in
    memh/memb; radix 10: plain decimal.  ``header``: ``;`` comment lines
    first (see the module doc)."""
    if radix not in (2, 10, 16):
        raise ValueError(f"write_coe: radix must be 2, 10 or 16, got {radix!r}")
    codes, shape, fmt = codes_and_format(q, fmt, "write_coe")
    lanes = _check_packing(lanes, lane_order, fmt, "write_coe")
    words = words_of(codes, fmt, lanes, lane_order, "write_coe")
    data = _spell(words, _ndigits(lanes * fmt.width, radix), radix, ",\n")
    body = b"\n" + data[:-2] if len(words) else b""
    head = "".join(f"; {line}\n" for line in header_lines(fmt, shape, lanes, lane_order, radix)) \
        if header else ""
    with open(path, "wb") as fh:
        fh.write((head + f"memory_initialization_radix={radix};\nmemory_initialization_vector=")
                 .encode("ascii") + body + b";\n")


# ------------------------------------------------------------------ reading
def _fast_codes(text: str, base: int, fmt):
    """The codes of plain text (tokens of digits only, one code per word) as
    a uint64 array, or None when the text needs the line-by-line reader
    (comments, ``_``, ``@``, x/z, a bad or out-of-range token: that reader
    names the line)."""
    if fmt.width > 64 or "/" in text or "_" in text or "@" in text:
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


def parse_word(token, base, bits, fmt, where, lanes):
    """``(value, unknown bits)`` of one word token of base 2/10/16
    (``_`` ignored; ``x``/``z``/``?`` digits unknown in base 2/16)."""
    digits = token.replace("_", "")
    allowed = {2: "01", 10: "0123456789", 16: "0123456789abcdefABCDEF"}[base]
    unknown_ok = "" if base == 10 else _UNKNOWN
    if not digits or any(ch not in allowed and ch not in unknown_ok for ch in digits):
        raise ValueError(f"{where}: {token!r} is not a base-{base} code (format {fmt.name})")
    if base == 10 or not any(ch in _UNKNOWN for ch in digits):
        value, unknown = int(digits, base), 0
    else:
        per = 4 if base == 16 else 1
        full = (1 << per) - 1
        value = unknown = 0
        for ch in digits:
            value <<= per
            unknown <<= per
            if ch in _UNKNOWN:
                unknown |= full
            else:
                value |= int(ch, base)
    if value >= 1 << bits or unknown >> bits:
        what = f"codes are below 2**{bits}" if lanes == 1 else \
            f"a word of {lanes} lanes has {bits} bits; the padding bits above them must be 0"
        raise ValueError(f"{where}: code {token!r} is out of range for format {fmt.name} ({what})")
    return value, unknown


def _blank_block_comments(text):
    return re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group()), text, flags=re.S)


def _place(entries, source, fmt, base_address):
    """The words of ``entries`` ({address: (value, unknown, where)}) in
    address order, checked to cover ``base .. base + n - 1`` once each."""
    if not entries:
        return [], []
    addresses = sorted(entries)
    base = addresses[0] if base_address is None else int(base_address)
    if addresses[0] < base:
        raise ValueError(f"{entries[addresses[0]][2]}: address 0x{addresses[0]:x} is below the "
                         f"base address 0x{base:x} (format {fmt.name})")
    for i, a in enumerate(addresses):
        if a != base + i:
            raise ValueError(f"{source}: no word at address 0x{base + i:x} (the words cover "
                             f"0x{base:x} .. 0x{addresses[-1]:x} with gaps); the next word is at "
                             f"0x{a:x}, {entries[a][2].split(': ', 1)[0].split(', ', 1)[-1]} "
                             f"(format {fmt.name})")
    return [entries[a][0] for a in addresses], [entries[a][1] for a in addresses]


def _lanes_of(words, unknowns, fmt, lanes, lane_order):
    """Codes (and unknown bits) of the words, lane by lane, as Python ints."""
    mask = (1 << fmt.width) - 1
    shifts = _shifts(lanes, fmt.width, lane_order)
    codes = [(w >> s) & mask for w in words for s in shifts]
    unknown = [(u >> s) & mask for u in unknowns for s in shifts]
    return codes, unknown


def finish(codes, fmt, shape, source):
    """A QArray of ``codes`` (ints already in range) with ``shape``."""
    arr = np.empty(len(codes), dtype=bits_dtype(fmt))
    if arr.dtype == object:
        arr[:] = list(codes)
    elif len(codes):
        arr[:] = np.asarray(codes, dtype=np.uint64)
    if shape is not None:
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
        if math.prod(shape) != len(codes):
            raise ValueError(f"{source}: holds {len(codes)} codes of format {fmt.name}, "
                             f"which do not fill shape {shape}")
        arr = arr.reshape(shape)
    return wrap_codes(arr, fmt)


def _result(codes, unknown, fmt, shape, source, with_unknown, first_unknown):
    q = finish(codes, fmt, shape, source)
    if with_unknown:
        return q, finish(unknown, fmt, q.shape, source).bits.copy()
    if first_unknown is not None:
        raise ValueError(f"{first_unknown}: x/z digits (unknown bits) in a file of codes of "
                         f"format {fmt.name}; read a device's dump with with_unknown=True "
                         "(fxsim diff counts them as mismatches)")
    return q


def _read_mem(path, fmt, shape, base, what, lanes, lane_order, base_address, with_unknown):
    fmt = _formats.format(fmt)
    lanes = _check_packing(lanes, lane_order, fmt, what)
    source = f"{what}({os.fspath(path)!r})"
    with open(path, encoding="ascii", errors="strict") as fh:
        text = fh.read()
    if lanes == 1 and base_address is None:
        fast = _fast_codes(text, base, fmt)
        if fast is not None:
            q = finish(fast, fmt, shape, source)
            return (q, np.zeros(q.shape, q.bits.dtype)) if with_unknown else q
    bits = lanes * fmt.width
    entries, address, first_unknown = {}, 0, None
    for lineno, line in enumerate(_blank_block_comments(text).splitlines(), start=1):
        where = f"{source}, line {lineno}: {line.strip()!r}"
        for token in line.split("//", 1)[0].split():
            if token.startswith("@"):
                digits = token[1:].replace("_", "")
                if not digits or any(ch not in "0123456789abcdefABCDEF" for ch in digits):
                    raise ValueError(f"{where}: {token!r} is not an @address (hex, in words) "
                                     f"(format {fmt.name})")
                address = int(digits, 16)
                continue
            value, unknown = parse_word(token, base, bits, fmt, where, lanes)
            if unknown and first_unknown is None:
                first_unknown = where
            if address in entries:
                raise ValueError(f"{where}: address 0x{address:x} is written twice (format {fmt.name})")
            entries[address] = (value, unknown, where)
            address += 1
    words, unknowns = _place(entries, source, fmt, base_address)
    codes, unknown = _lanes_of(words, unknowns, fmt, lanes, lane_order)
    return _result(codes, unknown, fmt, shape, source, with_unknown, first_unknown)


def read_memh(path, fmt, shape=None, *, lanes=1, lane_order="lsb", base=None, with_unknown=False):
    """Read a ``$readmemh`` file of codes of ``fmt`` (1-D, or ``shape``).

    ``lanes``/``lane_order`` as written; ``base``: the first address the
    result holds (default: the lowest in the file); ``with_unknown=True``:
    return ``(q, unknown bits)`` instead of refusing x/z digits."""
    return _read_mem(path, fmt, shape, 16, "read_memh", lanes, lane_order, base, with_unknown)


def read_memb(path, fmt, shape=None, *, lanes=1, lane_order="lsb", base=None, with_unknown=False):
    """Read a ``$readmemb`` file of codes of ``fmt`` (options as :func:`read_memh`)."""
    return _read_mem(path, fmt, shape, 2, "read_memb", lanes, lane_order, base, with_unknown)


_COE_KEY = re.compile(r"^\s*(memory_initialization_radix|memory_initialization_vector)\s*=(.*)$", re.I)


def _coe_vector(path, fmt, source):
    """(radix, [(token, lineno, line)]) of a .coe file, its syntax checked."""
    radix = None
    in_vector = done = False
    pieces = []  # (text, lineno, line) of the vector
    last = (0, "")
    with open(path, encoding="ascii", errors="strict") as fh:
        lines = fh.read().splitlines()
    for lineno, line in enumerate(lines, start=1):
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
            raise ValueError(f"{where}: .coe files have no @address lines (format {fmt.name})")
        if ";" in rest:
            rest, tail = rest.split(";", 1)
            if tail.strip():
                raise ValueError(f"{where}: text after the vector's closing ';' (format {fmt.name})")
            done = True
        pieces.append((rest, lineno, stripped))
        last = (lineno, stripped)
    if not in_vector:
        raise ValueError(f"{source}: no memory_initialization_vector (format {fmt.name})")
    if not done:
        raise ValueError(f"{source}, line {last[0]}: {last[1]!r}: the vector does not end with ';' "
                         f"(format {fmt.name})")
    # split the vector at commas, remembering the line each code starts on
    tokens, current, start = [], "", None
    for text, lineno, line in pieces:
        for j, part in enumerate(text.split(",")):
            if j:  # a comma ends the current field
                tokens.append((current, start, (lineno, line)))
                current, start = "", None
            if part.strip() and start is None:
                start = (lineno, line)
            current += part + " "
    tokens.append((current, start, last))
    if len(tokens) == 1 and not current.strip():
        return radix, []
    out = []
    for token, place, comma in tokens:
        if place is None:  # an empty field: name the line of the comma (or ';') after it
            raise ValueError(f"{source}, line {comma[0]}: {comma[1]!r}: an empty code between "
                             f"commas (format {fmt.name})")
        if len(token.split()) != 1:
            raise ValueError(f"{source}, line {place[0]}: {place[1]!r}: codes must be separated by "
                             f"commas, got {token.strip()!r} (format {fmt.name})")
        out.append((token.strip(), place[0], place[1]))
    return radix, out


def read_coe(path, fmt, shape=None, *, lanes=1, lane_order="lsb", with_unknown=False):
    """Read a Xilinx ``.coe`` file of codes of ``fmt`` (radix 2, 10 or 16;
    ``lanes``, ``lane_order`` and ``with_unknown`` as :func:`read_memh`)."""
    fmt = _formats.format(fmt)
    lanes = _check_packing(lanes, lane_order, fmt, "read_coe")
    source = f"read_coe({os.fspath(path)!r})"
    radix, tokens = _coe_vector(path, fmt, source)
    words, unknowns, first_unknown = [], [], None
    for token, lineno, line in tokens:
        where = f"{source}, line {lineno}: {line!r}"
        value, unknown = parse_word(token, radix, lanes * fmt.width, fmt, where, lanes)
        if unknown and first_unknown is None:
            first_unknown = where
        words.append(value)
        unknowns.append(unknown)
    codes, unknown = _lanes_of(words, unknowns, fmt, lanes, lane_order)
    return _result(codes, unknown, fmt, shape, source, with_unknown, first_unknown)
