"""fxsim.io: test-vector files (memh, memb, coe, npz) and numbers to encode.

Round trips are identities; file text is checked against hand-written
literals and against Python's own int formatting; text numbers against
Python's Fraction arithmetic.  (diff: tests/test_diff.py.)
"""
import json
import math
from fractions import Fraction

import numpy as np
import pytest

import fxsim
from fxsim import io
from fxsim.array import bits_dtype

WIDE = "s100.60"
EXTRA_FORMATS = [WIDE, "u3.1", "s12.-2", "e3m2_nosub", "e4m3b9fn"]
ALL_FORMATS = list(fxsim.formats.PRESETS) + EXTRA_FORMATS


def _codes(fmt, seed=0):
    """Every code of formats up to 16 bits; 3000 random ones (and the ends) beyond."""
    fmt = fxsim.format(fmt)
    if fmt.width <= 16:
        return np.arange(1 << fmt.width, dtype=np.uint64).astype(bits_dtype(fmt))
    rng = np.random.default_rng(seed)
    top = (1 << fmt.width) - 1
    if fmt.width <= 64:
        codes = rng.integers(0, top, size=3000, dtype=np.uint64, endpoint=True)
        return np.concatenate([codes, np.uint64([0, top, top >> 1])]).astype(bits_dtype(fmt))
    vals = [int.from_bytes(rng.bytes((fmt.width + 7) // 8), "little") & top for _ in range(3000)]
    out = np.empty(len(vals) + 3, dtype=object)
    out[:] = vals + [0, top, top >> 1]
    return out


def _q(codes, fmt):
    return fxsim.from_bits(codes, fmt)


def _same(q, codes, fmt):
    fmt = fxsim.format(fmt)
    assert q.fmt == fmt
    assert q.bits.dtype == bits_dtype(fmt)
    assert q.bits.shape == np.shape(codes)
    assert [int(c) for c in q.bits.reshape(-1)] == [int(c) for c in np.reshape(codes, -1)]


# ------------------------------------------------------------------ literal text
def test_memh_memb_literal_text(tmp_path):
    q = fxsim.from_bits([0x00, 0x7e, 0x80], "float8_e4m3fn")
    io.write_memh(tmp_path / "a.memh", q)
    assert (tmp_path / "a.memh").read_bytes() == b"00\n7e\n80\n"
    io.write_memb(tmp_path / "a.memb", q)
    assert (tmp_path / "a.memb").read_bytes() == b"00000000\n01111110\n10000000\n"
    # 4-bit: one hex digit; 6-bit: two hex digits, six binary digits; raw codes + fmt
    io.write_memh(tmp_path / "b.memh", np.uint8([0xf, 0x1]), "float4_e2m1fn")
    assert (tmp_path / "b.memh").read_text() == "f\n1\n"
    io.write_memb(tmp_path / "c.memb", [5, 63], "float6_e3m2fn")
    assert (tmp_path / "c.memb").read_text() == "000101\n111111\n"
    io.write_memh(tmp_path / "c.memh", [5, 63], "float6_e3m2fn")
    assert (tmp_path / "c.memh").read_text() == "05\n3f\n"
    # 100 bits: 25 hex digits; row-major order of a 2-D array
    io.write_memh(tmp_path / "w.memh", fxsim.from_bits(np.array([[1, 2**99], [0, 2**100 - 1]], dtype=object), WIDE))
    assert (tmp_path / "w.memh").read_text() == (
        "0000000000000000000000001\n8000000000000000000000000\n"
        "0000000000000000000000000\nfffffffffffffffffffffffff\n")


def test_coe_literal_text(tmp_path):
    q = fxsim.from_bits([0x00, 0x7e, 0x80], "float8_e4m3fn")
    io.write_coe(tmp_path / "a.coe", q)
    assert (tmp_path / "a.coe").read_text() == (
        "memory_initialization_radix=16;\nmemory_initialization_vector=\n00,\n7e,\n80;\n")
    io.write_coe(tmp_path / "b.coe", q, radix=2)
    assert (tmp_path / "b.coe").read_text() == (
        "memory_initialization_radix=2;\nmemory_initialization_vector=\n"
        "00000000,\n01111110,\n10000000;\n")
    # radix 10: plain decimal (memory_initialization_radix=10)
    io.write_coe(tmp_path / "c.coe", q, radix=10)
    assert (tmp_path / "c.coe").read_text() == (
        "memory_initialization_radix=10;\nmemory_initialization_vector=\n0,\n126,\n128;\n")
    with pytest.raises(ValueError, match="radix"):
        io.write_coe(tmp_path / "d.coe", q, radix=8)


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("name", ALL_FORMATS)
def test_text_round_trips_every_format(tmp_path, name):
    fmt = fxsim.format(name)
    codes = _codes(fmt)
    q = _q(codes, fmt)
    digits = -(-fmt.width // 4)
    hex_lines = [format(int(c), f"0{digits}x") for c in codes]
    bin_lines = [format(int(c), f"0{fmt.width}b") for c in codes]

    io.write_memh(tmp_path / "x.memh", q)
    assert (tmp_path / "x.memh").read_text().splitlines() == hex_lines
    _same(io.read_memh(tmp_path / "x.memh", fmt), codes, fmt)

    io.write_memb(tmp_path / "x.memb", q.bits, fmt)
    assert (tmp_path / "x.memb").read_text().splitlines() == bin_lines
    _same(io.read_memb(tmp_path / "x.memb", name), codes, fmt)

    for radix, lines in ((16, hex_lines), (2, bin_lines)):
        io.write_coe(tmp_path / "x.coe", q, radix=radix)
        text = (tmp_path / "x.coe").read_text()
        assert text == (f"memory_initialization_radix={radix};\nmemory_initialization_vector=\n"
                        + ",\n".join(lines) + ";\n")
        _same(io.read_coe(tmp_path / "x.coe", fmt), codes, fmt)

    # the shape comes back when given (row-major order)
    shaped = codes[: (codes.size // 2) * 2].reshape(2, -1)
    io.write_memh(tmp_path / "y.memh", _q(shaped, fmt))
    _same(io.read_memh(tmp_path / "y.memh", fmt, shape=shaped.shape), shaped, fmt)


def test_npz_round_trips_every_format(tmp_path):
    arrays = {}
    for i, name in enumerate(ALL_FORMATS):
        codes = _codes(name, seed=i)
        if i % 3 == 0:
            codes = codes[: (codes.size // 3) * 3].reshape(3, -1)
        arrays[name.replace(".", "_")] = _q(codes, name)
    arrays["scalar"] = fxsim.from_bits(np.uint16(0x3c00), "float16")
    arrays["empty"] = fxsim.from_bits(np.zeros((0, 4), np.uint8), "int8")
    io.write_npz(tmp_path / "v.npz", arrays)
    with np.load(tmp_path / "v.npz", allow_pickle=False) as raw:  # no pickles needed
        assert raw[WIDE.replace(".", "_")].dtype.kind == "U"
        assert raw["float8_e4m3fn"].dtype == np.uint8 and raw["float32"].dtype == np.uint32
        assert raw["int64"].dtype == np.uint64 and raw["float6_e3m2fn"].dtype == np.uint8
    back, manifest = io.read_npz(tmp_path / "v.npz")
    assert list(back) == list(arrays)
    for key, q in arrays.items():
        _same(back[key], q.bits, q.fmt)
    assert manifest["arrays"]["s100_60"]["dtype"] == "hex"


def test_npz_keeps_a_narrowed_range(tmp_path):
    q = fxsim.asarray([-200.0, -127.0, 3.0, 200.0], "s8.0n")  # saturates to -127, not -128
    assert q.bits.tolist() == [0x81, 0x81, 3, 0x7F]
    io.write_npz(tmp_path / "n.npz", {"q": q})
    back, manifest = io.read_npz(tmp_path / "n.npz")
    assert back["q"].fmt == q.fmt and back["q"].fmt.narrow
    assert manifest["arrays"]["q"]["format"]["narrow"] is True
    assert "narrow" not in io.format_fields("s8.0")  # ordinary manifests unchanged


def test_empty_text_files(tmp_path):
    empty = fxsim.from_bits(np.zeros(0, np.uint8), "float8_e5m2")
    for write, read in ((io.write_memh, io.read_memh), (io.write_memb, io.read_memb),
                        (io.write_coe, io.read_coe)):
        write(tmp_path / "e", empty)
        _same(read(tmp_path / "e", "float8_e5m2"), np.zeros(0, np.uint8), "float8_e5m2")


# ------------------------------------------------------------------ manifest
def test_npz_manifest_contents(tmp_path):
    odd = fxsim.FloatFormat(4, 3, bias=9, subnormals=False, special="fn")
    arrays = {"w": fxsim.from_bits([[1, 2], [3, 0x7e]], odd),
              "x": fxsim.from_bits([0, 255], "u8.3"),
              "big": fxsim.from_bits(np.array([2**100 - 1], dtype=object), WIDE)}
    io.write_npz(tmp_path / "m.npz", arrays, rounding="stochastic",
                 overflow={"conv1": "saturate", "fc": fxsim.Overflow.WRAP},
                 seeds={"weights": 1234, "sr": [7, 8]}, layers=("conv1", "fc"),
                 extra={"note": "golden", "k": np.int64(3)})
    with np.load(tmp_path / "m.npz", allow_pickle=False) as raw:
        assert raw["__manifest__"].dtype == np.uint8
        manifest = json.loads(raw["__manifest__"].tobytes().decode("utf-8"))
    assert manifest["fxsim_version"] == fxsim.__version__
    assert manifest["rounding"] == "stochastic"
    assert manifest["overflow"] == {"conv1": "saturate", "fc": "wrap"}
    assert manifest["seeds"] == {"weights": 1234, "sr": [7, 8]}
    assert manifest["layers"] == ["conv1", "fc"]
    assert manifest["extra"] == {"note": "golden", "k": 3}
    assert manifest["arrays"]["w"] == {
        "format": {"kind": "float", "name": odd.name, "width": 8, "exp": 4, "man": 3, "bias": 9,
                   "subnormals": False, "special": "fn"},
        "shape": [2, 2], "dtype": "uint8"}
    assert manifest["arrays"]["x"]["format"] == {"kind": "fixed", "name": "u8.3", "width": 8,
                                                 "word": 8, "frac": 3, "signed": False}
    assert manifest["arrays"]["big"]["format"]["word"] == 100
    back, read_manifest = io.read_npz(tmp_path / "m.npz")
    assert read_manifest == manifest
    assert back["w"].fmt == odd and back["w"].fmt.bias == 9 and not back["w"].fmt.subnormals
    assert back["x"].fmt == fxsim.FixedFormat(8, 3, signed=False)


def _tampered(tmp_path, edit, data=None):
    """An npz whose manifest (and data) were edited after writing."""
    io.write_npz(tmp_path / "t.npz", {"a": fxsim.from_bits([1, 2, 3], "float6_e3m2fn")})
    with np.load(tmp_path / "t.npz", allow_pickle=False) as raw:
        store = {k: raw[k] for k in raw.files}
    manifest = json.loads(store["__manifest__"].tobytes())
    edit(manifest)
    store["__manifest__"] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
    if data is not None:
        store["a"] = data
    np.savez(tmp_path / "bad.npz", **store)
    return tmp_path / "bad.npz"


def test_npz_rebuilds_formats_from_fields_and_checks(tmp_path):
    # fields win over the name: a name that disagrees with the fields is an error
    def rename(m):
        m["arrays"]["a"]["format"]["name"] = "float6_e2m3fn"
    with pytest.raises(ValueError, match="'a'.*float6_e3m2fn"):
        io.read_npz(_tampered(tmp_path, rename))

    def rebias(m):
        m["arrays"]["a"]["format"]["bias"] = 4
        m["arrays"]["a"]["format"]["name"] = "e3m2b4_finite"
    back, _ = io.read_npz(_tampered(tmp_path, rebias))
    assert back["a"].fmt == fxsim.FloatFormat(3, 2, bias=4, special="finite")

    # a code out of range for the 6-bit format, at index (2,)
    with pytest.raises(ValueError, match=r"'a'.*64.*\(2,\).*float6_e3m2fn"):
        io.read_npz(_tampered(tmp_path, lambda m: None, data=np.uint8([1, 2, 64])))
    with pytest.raises(ValueError, match="shape"):
        io.read_npz(_tampered(tmp_path, lambda m: None, data=np.uint8([1, 2])))
    with pytest.raises(ValueError, match="dtype"):
        io.read_npz(_tampered(tmp_path, lambda m: None, data=np.uint16([1, 2, 3])))

    def drop(m):
        del m["arrays"]["a"]["format"]["special"]
    with pytest.raises(ValueError, match="cannot rebuild"):
        io.read_npz(_tampered(tmp_path, drop))
    np.savez(tmp_path / "plain.npz", a=np.uint8([1]))
    with pytest.raises(ValueError, match="__manifest__"):
        io.read_npz(tmp_path / "plain.npz")


def test_npz_bad_arguments(tmp_path):
    q = fxsim.from_bits([1], "int8")
    with pytest.raises(ValueError, match="__manifest__"):
        io.write_npz(tmp_path / "a.npz", {"__manifest__": q})
    with pytest.raises(ValueError, match="QArray"):
        io.write_npz(tmp_path / "a.npz", {"a": np.uint8([1])})
    with pytest.raises(ValueError, match="rounding.*'nearest'"):
        io.write_npz(tmp_path / "a.npz", {"a": q}, rounding="nearest")
    with pytest.raises(ValueError, match="seeds"):
        io.write_npz(tmp_path / "a.npz", {"a": q}, seeds=object())


# ------------------------------------------------------------------ bad text files
def _file(tmp_path, text, name="bad.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_readers_accept_comments_and_blank_lines(tmp_path):
    path = _file(tmp_path, "// header\n\n00 // zero\n  7E\n\n8_0\n")
    _same(io.read_memh(path, "float8_e4m3fn"), np.uint8([0, 0x7e, 0x80]), "float8_e4m3fn")
    path = _file(tmp_path, "// x\n0101\n\n1111 0000\n")
    _same(io.read_memb(path, "float4_e2m1fn"), np.uint8([5, 15, 0]), "float4_e2m1fn")
    path = _file(tmp_path, "; a comment\nmemory_initialization_radix = 10;\n"
                 "memory_initialization_vector = 0, 126,\n 128 ;\n", "a.coe")
    _same(io.read_coe(path, "float8_e4m3fn"), np.uint8([0, 126, 128]), "float8_e4m3fn")


def test_memh_errors_name_line_and_text(tmp_path):
    with pytest.raises(ValueError, match=r"line 3: '100'.*out of range.*float8_e4m3fn"):
        io.read_memh(_file(tmp_path, "00\n// c\n100\n7f\n"), "float8_e4m3fn")
    with pytest.raises(ValueError, match=r"line 2: '0g'.*float8_e5m2"):
        io.read_memh(_file(tmp_path, "00\n0g\n"), "float8_e5m2")
    with pytest.raises(ValueError, match=r"line 2: 'xx'"):
        io.read_memh(_file(tmp_path, "00\nxx\n"), "int8")
    with pytest.raises(ValueError, match=r"line 1: '@1g'.*@address"):
        io.read_memh(_file(tmp_path, "@1g\n00\n"), "int8")
    with pytest.raises(ValueError, match=r"line 2: '10'.*out of range.*float4_e2m1fn"):
        io.read_memh(_file(tmp_path, "f\n10\n"), "float4_e2m1fn")
    with pytest.raises(ValueError, match=r"line 2: '0102'.*base-2"):
        io.read_memb(_file(tmp_path, "0101\n0102\n"), "float4_e2m1fn")
    with pytest.raises(ValueError, match=r"line 1: '10000'.*out of range"):
        io.read_memb(_file(tmp_path, "10000\n"), "float4_e2m1fn")
    with pytest.raises(ValueError, match=r"3 codes.*shape \(2, 2\)"):
        io.read_memh(_file(tmp_path, "00\n01\n02\n"), "int8", shape=(2, 2))
    # a 100-bit format refuses a 101-bit code
    with pytest.raises(ValueError, match=r"line 1.*out of range.*s100.60"):
        io.read_memh(_file(tmp_path, "1" + "0" * 25 + "\n"), WIDE)


def test_coe_errors_name_line(tmp_path):
    head = "memory_initialization_radix=16;\nmemory_initialization_vector=\n"
    with pytest.raises(ValueError, match=r"line 4: '1ff,'.*out of range.*float8_e4m3fn"):
        io.read_coe(_file(tmp_path, head + "00,\n1ff,\n80;\n"), "float8_e4m3fn")
    with pytest.raises(ValueError, match=r"line 5: '80'.*';'"):
        io.read_coe(_file(tmp_path, head + "00,\n7e,\n80\n"), "float8_e4m3fn")
    with pytest.raises(ValueError, match=r"line 4: ',7e;'.*empty"):
        io.read_coe(_file(tmp_path, head + "00,\n,7e;\n"), "float8_e4m3fn")
    with pytest.raises(ValueError, match=r"line 4: '7e 80;'.*commas"):
        io.read_coe(_file(tmp_path, head + "00,\n7e 80;\n"), "float8_e4m3fn")
    with pytest.raises(ValueError, match=r"line 1.*radix must be 2, 10 or 16"):
        io.read_coe(_file(tmp_path, "memory_initialization_radix=8;\n"), "int8")
    with pytest.raises(ValueError, match=r"line 1.*radix must come before"):
        io.read_coe(_file(tmp_path, "memory_initialization_vector=00;\n"), "int8")
    with pytest.raises(ValueError, match=r"line 4: 'junk'.*after"):
        io.read_coe(_file(tmp_path, head + "00;\njunk\n"), "int8")
    with pytest.raises(ValueError, match=r"line 3: '0002,'.*base-2"):
        io.read_coe(_file(tmp_path, "memory_initialization_radix=2;\nmemory_initialization_vector=\n"
                          "0002,\n0001;\n"), "float4_e2m1fn")


def test_writers_check_codes_and_formats(tmp_path):
    with pytest.raises(ValueError, match=r"64.*\(1,\).*float6_e3m2fn"):
        io.write_memh(tmp_path / "a", [1, 64], "float6_e3m2fn")
    with pytest.raises(ValueError, match="fmt"):
        io.write_memh(tmp_path / "a", [1, 2])
    with pytest.raises(ValueError, match="float8_e5m2.*float8_e4m3fn"):
        io.write_memb(tmp_path / "a", fxsim.from_bits([1], "float8_e5m2"), "float8_e4m3fn")


# ------------------------------------------------------------------ ints (cocotb)
@pytest.mark.parametrize("name", ["float8_e4m3fn", "bfloat16", "uint64", WIDE])
def test_to_ints_from_ints(name):
    codes = _codes(name)[:24].reshape(2, 3, 4)
    q = _q(codes, name)
    ints = io.to_ints(q)
    assert isinstance(ints, list) and len(ints) == 2 and len(ints[0]) == 3
    flat = [v for plane in ints for row in plane for v in row]
    assert all(type(v) is int for v in flat)
    assert flat == [int(c) for c in codes.reshape(-1)]
    _same(io.from_ints(ints, name), codes, name)


def test_from_ints_checks():
    with pytest.raises(ValueError, match=r"256.*\(1, 0\).*s8.0"):
        io.from_ints([[1, 2], [256, 0]], "int8")
    with pytest.raises(ValueError, match=r"-1"):
        io.from_ints([-1], "uint8")
    assert io.to_ints(fxsim.from_bits(np.uint8(7), "int8")) == 7


@pytest.mark.parametrize("name", ["int8", "s12.4", "float8_e4m3fn", "uint16", "int64", WIDE])
def test_signed_views_are_twos_complement(name):
    """to_ints(signed=True) is the code read as a width-bit two's complement
    integer (Python's own arithmetic: c - 2**w when the top bit is set);
    from_ints takes such negative ints back for signed formats."""
    fmt = fxsim.format(name)
    codes = _codes(name)[:24]
    q = _q(codes, name)
    w = fmt.width
    want = [int(c) - (1 << w) if int(c) >> (w - 1) else int(c) for c in codes]
    signed = io.to_ints(q, signed=True)
    assert signed == want and all(type(v) is int for v in signed)
    if fmt.signed:
        _same(io.from_ints(signed, name), codes, name)
        _same(io.from_ints(np.array(signed, dtype=object), name), codes, name)
    _same(io.from_ints(signed, name, signed=True), codes, name)


def test_negative_ints_in_and_out():
    assert io.to_ints(fxsim.asarray([-28, 5], "int8")) == [228, 5]
    assert io.to_ints(fxsim.asarray([-28, 5], "int8"), signed=True) == [-28, 5]
    assert io.from_ints([-3, 127, 200], "int8").bits.tolist() == [0xfd, 0x7f, 200]
    assert io.from_ints(np.int8([-1, 2]), "int8").bits.tolist() == [0xff, 2]
    with pytest.raises(ValueError, match=r"-129 at index \(1,\).*s8.0"):
        io.from_ints([-128, -129], "int8")
    with pytest.raises(ValueError, match=r"128 at index \(0,\).*signed=True.*s8.0"):
        io.from_ints([128], "int8", signed=True)
    with pytest.raises(ValueError, match=r"-1 at index \(0, 1\).*unsigned"):
        io.from_ints(np.array([[0, -1]], np.int16), "uint8")
    with pytest.raises(ValueError, match=r"2\.5 at index \(1,\)"):
        io.from_ints([1, 2.5], "int8")


def test_writers_take_negative_ints(tmp_path):
    io.write_memh(tmp_path / "n.memh", np.int8([-1, 2]), "int8")
    assert (tmp_path / "n.memh").read_text() == "ff\n02\n"
    io.write_memb(tmp_path / "n.memb", [-2, 1], "s4.2")
    assert (tmp_path / "n.memb").read_text() == "1110\n0001\n"
    with pytest.raises(ValueError, match=r"-1 at index \(0,\).*unsigned.*u8.0"):
        io.write_memh(tmp_path / "u.memh", [-1], "uint8")


def test_int_values_of_an_integer_matmul_without_float64():
    """int8 x int8 products summed exactly (s.0 grown format) come out as
    ints equal to numpy's int64 matmul; a 100-bit value digit for digit."""
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, size=(5, 300))
    b = rng.integers(-128, 128, size=(300, 4))
    got = io.int_values(fxsim.matmul(fxsim.asarray(a, "int8"), fxsim.asarray(b, "int8")))
    assert got.dtype == np.int64 and (got == a @ b).all()
    wide = fxsim.from_bits(np.array([(1 << 99) + 12345, 7], dtype=object), "s100.0")
    assert io.int_values(wide).tolist() == [-(1 << 99) + 12345, 7]
    assert io.int_values(fxsim.from_bits([0x18, 0xe0], "s8.3")).tolist() == [3, -4]
    assert io.int_values(fxsim.from_bits([1, 0xfff], "s12.-2")).tolist() == [4, -4]
    assert io.int_values(fxsim.asarray([448.0, -2.0, -0.0], "float8_e4m3fn")).tolist() == [448, -2, 0]
    assert io.int_values(fxsim.asarray([3], "int8"), dtype=object).tolist() == [3]
    with pytest.raises(ValueError, match=r"3/8 at index \(1,\).*s8.3"):
        io.int_values(fxsim.from_bits([8, 3], "s8.3"))
    with pytest.raises(ValueError, match=r"nan at index \(0,\).*float8_e4m3fn"):
        io.int_values(fxsim.from_bits([0x7f], "float8_e4m3fn"))


# ------------------------------------------------------------------ numbers to encode (text)
# More digits than float64 holds: read through float64 each would round twice
# (first to float64, which lands on a tie of s8.0, then to s8.0).
LONG = ["0.50000000000000000001", "0.49999999999999999999", "-0.50000000000000000001",
        "1.49999999999999999999", "-2.50000000000000000001", "5.0000000000000000001e-1",
        "0.50000000000000001", "2.5", "-3"]


def _s8_nearest_even(text):
    """The oracle: the s8.0 code of ``text`` by Python's Fraction arithmetic
    (round() of a Fraction ties to even; the values here are in range)."""
    return round(Fraction(text)) & 0xFF


def test_the_long_numbers_would_round_twice_through_float64():
    twice = [round(Fraction(float(t))) & 0xFF for t in LONG]
    assert sum(a != _s8_nearest_even(t) for a, t in zip(twice, LONG)) == 6


@pytest.mark.parametrize("name, sep", [("x.csv", ", "), ("x.txt", "  ")])
def test_text_numbers_round_once(tmp_path, name, sep):
    rows = [LONG[i:i + 3] for i in range(0, len(LONG), 3)]
    path = _file(tmp_path, "# long numbers\n" + "".join(sep.join(r) + "\n" for r in rows), name)
    values = io.read_values(path)
    assert values.shape == (3, 3) and values.dtype == object
    assert [Fraction(v) for v in values.reshape(-1)] == [Fraction(t) for t in LONG]
    codes = fxsim.encode(values, "s8.0", "nearest_even")
    assert codes.reshape(-1).tolist() == [_s8_nearest_even(t) for t in LONG]


def test_text_numbers_float64_holds_stay_float64(tmp_path):
    values = io.read_values(_file(tmp_path, "1, 2.5, -0\nnan, -inf, 1e22\n", "x.csv"))
    assert values.dtype == np.float64 and values.shape == (2, 3)
    assert values[0, 2] == 0 and np.signbit(values[0, 2]) and np.isnan(values[1, 0])
    assert values.reshape(-1)[[0, 1, 4, 5]].tolist() == [1.0, 2.5, -np.inf, 10**22]


def test_text_numbers_beyond_float64(tmp_path):
    """0.1 is one tenth: rounded down into float64 it is the float below it;
    1e400 and 1e-400 are finite and nonzero, not inf and 0."""
    values = io.read_values(_file(tmp_path, "0.1\n1e400\n1e-400\n-1e-400\n", "x.txt"))
    assert values.tolist() == [Fraction(1, 10), Fraction(10**400), Fraction(1, 10**400),
                               Fraction(-1, 10**400)]
    below = float(Fraction(1, 10))
    if Fraction(below) > Fraction(1, 10):
        below = math.nextafter(below, -math.inf)
    down = fxsim.encode(values, "float64", "down", "saturate")
    assert int(down[0]) == int(np.float64(below).view(np.uint64))
    assert down[1:].tolist() == [0x7FEFFFFFFFFFFFFF, 0, 0x8000000000000001]
    assert fxsim.encode(values, "s8.0", "nearest_even").tolist() == [0, 0x7F, 0, 0]


def test_text_number_errors(tmp_path):
    with pytest.raises(ValueError, match=r"x.csv.*not a table of numbers"):
        io.read_values(_file(tmp_path, "1, abc\n", "x.csv"))
