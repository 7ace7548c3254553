"""Memory files for testbenches: lanes packed per word, @address lines,
header comments, x/z digits of a device's dump, .coe radix 10, and the
SystemVerilog package export.

The packing is checked against words built here with Python ints; the
files against a small strict model of Verilog's ``$readmemh``/``$readmemb``
(IEEE 1800-2017 section 21.4) written in this test, which also loads them
into a simulated memory -- no simulator needed."""
import re

import numpy as np
import pytest

import fxsim
from fxsim import io
from fxsim.cli import main

WIDE = "s100.60"
FORMATS = list(fxsim.formats.PRESETS) + [WIDE, "u3.1", "e3m2_nosub"]
LANES = [1, 2, 4, 16]


# ------------------------------------------------------------------ a $readmemh model
def readmem(text, base, word_bits):
    """Load ``text`` as ``$readmemh`` (base 16) or ``$readmemb`` (base 2)
    would into a memory of ``word_bits``-bit words: ``{address: (value,
    unknown bits)}``.  Strict: the only tokens are white space, ``//`` and
    ``/* */`` comments, ``@hex`` addresses and numbers of the base's digits,
    ``x``/``z`` and ``_`` (not first); a number wider than the word is an
    error (the simulator would warn and truncate)."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    digit = "[0-9a-fA-FxXzZ]" if base == 16 else "[01xXzZ]"
    per = 4 if base == 16 else 1
    memory, address = {}, 0
    for token in text.split():
        if token.startswith("@"):
            assert re.fullmatch(r"@[0-9a-fA-F][0-9a-fA-F_]*", token), token
            address = int(token[1:].replace("_", ""), 16)
            continue
        assert re.fullmatch(f"{digit}[{digit[1:-1]}_]*", token), token
        digits = token.replace("_", "")
        value = unknown = 0
        for ch in digits:
            value, unknown = value << per, unknown << per
            if ch in "xXzZ":
                unknown |= (1 << per) - 1
            else:
                value |= int(ch, base)
        assert value >> word_bits == 0 and unknown >> word_bits == 0, (token, word_bits)
        assert address not in memory
        memory[address] = (value, unknown)
        address += 1
    return memory


def pack(codes, width, lanes, order="lsb"):
    """The words of ``codes`` (Python ints), ``lanes`` per word."""
    words = []
    for w in range(len(codes) // lanes):
        group = codes[w * lanes:(w + 1) * lanes]
        if order == "msb":
            group = group[::-1]
        words.append(sum(c << (i * width) for i, c in enumerate(group)))
    return words


def _codes(fmt, n=64, seed=0):
    rng = np.random.default_rng(seed)
    top = (1 << fmt.width) - 1
    ints = [int.from_bytes(rng.bytes(16), "little") & top for _ in range(n - 3)] + [0, top, top >> 1]
    arr = np.empty(n, dtype=object)
    arr[:] = ints
    return ints, fxsim.from_bits(arr, fmt)


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("name", FORMATS)
def test_every_preset_round_trips_with_lanes_and_addresses(tmp_path, name):
    fmt = fxsim.format(name)
    ints, q = _codes(fmt, seed=len(name))
    q2 = q.reshape(4, 16)
    for lanes in LANES:
        order = "msb" if lanes == 4 else "lsb"
        bits = lanes * fmt.width
        words = pack(ints, fmt.width, lanes, order)
        for kind, base, digits in (("memh", 16, -(-bits // 4)), ("memb", 2, bits)):
            path = tmp_path / f"x.{kind}"
            write = getattr(io, f"write_{kind}")
            read = getattr(io, f"read_{kind}")
            write(path, q2, lanes=lanes, lane_order=order, address=0x20 + lanes, header=True)
            text = path.read_text()
            assert readmem(text, base, bits) == {0x20 + lanes + i: (w, 0) for i, w in enumerate(words)}
            body = [line for line in text.splitlines() if not line.startswith(("//", "@"))]
            assert body == [format(w, f"0{digits}{'x' if base == 16 else 'b'}") for w in words]
            back = read(path, fmt, (4, 16), lanes=lanes, lane_order=order)
            assert back.fmt == fmt and back.bits.reshape(-1).tolist() == ints
            # an explicit base address that is the file's first gives the same
            assert read(path, fmt, lanes=lanes, lane_order=order, base=0x20 + lanes).bits.tolist() == ints
        for radix in (16, 2, 10):
            path = tmp_path / "x.coe"
            io.write_coe(path, q2, radix, lanes=lanes, lane_order=order, header=True)
            text = path.read_text()
            vector = text.split("memory_initialization_vector=\n", 1)[1].rstrip(";\n").split(",\n")
            spec = {16: f"0{-(-bits // 4)}x", 2: f"0{bits}b", 10: "d"}[radix]
            assert vector == [format(w, spec) for w in words]
            assert f"memory_initialization_radix={radix};" in text
            assert io.read_coe(path, fmt, lanes=lanes, lane_order=order).bits.tolist() == ints


def test_header_names_version_format_shape_and_packing(tmp_path):
    q = fxsim.from_bits(np.arange(32, dtype=np.uint8).reshape(2, 16), "float8_e4m3fn")
    io.write_memh(tmp_path / "h.memh", q, lanes=16, header=True)
    head = [line for line in (tmp_path / "h.memh").read_text().splitlines() if line.startswith("//")]
    text = "\n".join(head)
    assert f"fxsim {fxsim.__version__}" in text and "float8_e4m3fn" in text and "(2, 16)" in text
    assert "16 lanes of 8 bits per 128-bit word" in text and "LSB-first" in text
    # a 128-bit bus of sixteen FP8 lanes: lane 0 (code 0) in the low byte
    words = [line for line in (tmp_path / "h.memh").read_text().splitlines() if not line.startswith("//")]
    assert words == ["0f0e0d0c0b0a09080706050403020100", "1f1e1d1c1b1a19181716151413121110"]
    io.write_memh(tmp_path / "m.memh", q, lanes=16, lane_order="msb")
    assert (tmp_path / "m.memh").read_text().splitlines()[0] == "000102030405060708090a0b0c0d0e0f"


def test_widths_not_a_multiple_of_4_are_padded_above(tmp_path):
    # two 6-bit lanes 0x3f, 0x01 LSB-first: 0b000001_111111 = 0x07f (12 bits, 3 digits)
    io.write_memh(tmp_path / "p.memh", [0x3f, 0x01], "float6_e3m2fn", lanes=2, header=True)
    text = (tmp_path / "p.memh").read_text()
    assert text.splitlines()[-1] == "07f" and "3 hex digits per word" not in text
    io.write_memh(tmp_path / "q.memh", [0x3f, 0x01, 0x2a], "float6_e3m2fn", lanes=3, header=True)
    text = (tmp_path / "q.memh").read_text()   # 18 bits: 5 digits, 2 padding bits
    assert text.splitlines()[-1] == format(0x3f | 0x01 << 6 | 0x2a << 12, "05x")
    assert "2 zero padding bit(s) above bit 17" in text
    (tmp_path / "bad.memh").write_text("fffff\n")  # bit 18, 19 set: padding
    with pytest.raises(ValueError, match=r"line 1: 'fffff'.*float6_e3m2fn.*padding bits"):
        io.read_memh(tmp_path / "bad.memh", "float6_e3m2fn", lanes=3)


def test_addresses_read_and_checked(tmp_path):
    path = tmp_path / "a.memh"
    path.write_text("@2 03 04\n@0\n01 02 // two words\n/* a block\n comment */ @4 05\n")
    assert io.read_memh(path, "int8").bits.tolist() == [1, 2, 3, 4, 5]
    path.write_text("@10\n01\n02\n")
    assert io.read_memh(path, "int8").bits.tolist() == [1, 2]
    with pytest.raises(ValueError, match=r"no word at address 0x0"):
        io.read_memh(path, "int8", base=0)
    path.write_text("01\n@3\n02\n")
    with pytest.raises(ValueError, match=r"no word at address 0x1.*line 3"):
        io.read_memh(path, "int8")
    path.write_text("01\n02\n@1\n03\n")
    with pytest.raises(ValueError, match=r"line 4: '03': address 0x1 is written twice"):
        io.read_memh(path, "int8")
    with pytest.raises(ValueError, match=r"\.coe files have no @address"):
        (tmp_path / "a.coe").write_text("memory_initialization_radix=16;\n"
                                        "memory_initialization_vector=@1 00;\n")
        io.read_coe(tmp_path / "a.coe", "int8")


def test_packing_arguments_are_checked(tmp_path):
    q = fxsim.from_bits(np.arange(6, dtype=np.uint8), "int8")
    with pytest.raises(ValueError, match=r"6 codes of format s8.0 do not fill words of 4 lanes"):
        io.write_memh(tmp_path / "x", q, lanes=4)
    with pytest.raises(ValueError, match="lanes must be"):
        io.write_memh(tmp_path / "x", q, lanes=0)
    with pytest.raises(ValueError, match="lane_order"):
        io.write_memb(tmp_path / "x", q, lanes=2, lane_order="big")
    with pytest.raises(ValueError, match="address"):
        io.write_memh(tmp_path / "x", q, address=-1)


# ------------------------------------------------------------------ x/z in a DUT's dump
def test_unknown_digits_are_mismatches(tmp_path):
    golden = fxsim.from_bits(np.array([0x30, 0xba, 0x44, 0x4e], np.uint8), "float8_e4m3fn")
    io.write_memh(tmp_path / "g.memh", golden)
    (tmp_path / "d.memh").write_text("30\nba\nxx\n4z\n")
    with pytest.raises(ValueError, match=r"line 3: 'xx'.*with_unknown=True"):
        io.read_memh(tmp_path / "d.memh", "float8_e4m3fn")
    dut, unknown = io.read_memh(tmp_path / "d.memh", "float8_e4m3fn", with_unknown=True)
    assert dut.bits.tolist() == [0x30, 0xba, 0x00, 0x40] and unknown.tolist() == [0, 0, 0xff, 0x0f]
    report = io.diff(golden, dut, unknown=unknown)
    assert report.mismatches == 2 and report.unknown == 2
    assert [m.index for m in report.first] == [(2,), (3,)]
    assert all(m.fields == ("unknown",) and m.ulps is None for m in report.first)
    assert report.first[0].dut == "xx" and report.first[1].dut == "4x"
    assert report.first[1].bits == (0, 1, 2, 3)      # 0x4e vs 0x4?: only the unknown low nibble
    assert "unknown" in str(report)
    # packed lanes: the x digits fall in lane 1 only
    (tmp_path / "w.memh").write_text("xx30\n4e44\n")
    dut, unknown = io.read_memh(tmp_path / "w.memh", "float8_e4m3fn", lanes=2, with_unknown=True)
    assert unknown.tolist() == [0, 0xff, 0, 0]
    # memb and coe too
    (tmp_path / "d.memb").write_text("0011000z\n")
    _, unknown = io.read_memb(tmp_path / "d.memb", "float8_e4m3fn", with_unknown=True)
    assert unknown.tolist() == [1]


def test_unknown_digits_via_the_cli_exit_1(tmp_path, capsys):
    golden = fxsim.from_bits(np.array([0x30, 0xba, 0x44], np.uint8), "float8_e4m3fn")
    io.write_memh(tmp_path / "g.memh", golden)
    (tmp_path / "d.memh").write_text("30\nzz\n44\n")
    code = main(["diff", str(tmp_path / "g.memh"), str(tmp_path / "d.memh"), "-f", "e4m3fn"])
    out = capsys.readouterr().out
    assert code == 1 and "1 of 3 differ" in out and "unknown" in out and "zz" not in out
    (tmp_path / "d.memh").write_text("30\nba\n44\n")
    assert main(["diff", str(tmp_path / "g.memh"), str(tmp_path / "d.memh"), "-f", "e4m3fn"]) == 0
    (tmp_path / "x.memh").write_text("30\nxx\n44\n")
    assert main(["diff", str(tmp_path / "x.memh"), str(tmp_path / "d.memh"), "-f", "e4m3fn"]) == 2
    assert "GOLDEN" in capsys.readouterr().err


def test_cli_vectors_lanes_header_radix(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.array([0.5, -1.25, 3.0, 7.0]))
    assert main(["vectors", str(tmp_path / "x.npy"), "-f", "e4m3fn", "--out", str(tmp_path / "v"),
                 "--lanes", "2", "--header", "--address", "16", "--write", "memh"]) == 0
    text = (tmp_path / "v" / "x.memh").read_text()
    assert readmem(text, 16, 16) == {16: (0xba30, 0), 17: (0x4e44, 0)}
    assert main(["vectors", str(tmp_path / "x.npy"), "-f", "e4m3fn", "--out", str(tmp_path / "v"),
                 "--write", "coe", "--radix", "10"]) == 0
    assert (tmp_path / "v" / "x.coe").read_text().endswith("=\n48,\n186,\n68,\n78;\n")
    assert main(["diff", str(tmp_path / "v" / "x.memh"), str(tmp_path / "v" / "x.coe"), "-f", "e4m3fn",
                 "--lanes", "2"]) == 2  # the coe holds one code per word: 4 words of 16 bits
    capsys.readouterr()


# ------------------------------------------------------------------ SystemVerilog package
def test_sv_package(tmp_path):
    thresholds = fxsim.from_bits(np.array([3, 0xfffe, 16, 0], np.uint16), "int16")
    table = fxsim.from_bits(np.arange(6, dtype=np.uint8).reshape(2, 3), "float6_e3m2fn")
    scalar = fxsim.from_bits(np.uint8(0x7e), "float8_e4m3fn")
    io.write_sv_package(tmp_path / "rom_pkg.sv", {"THRESHOLDS": thresholds, "LUT": table, "MAXV": scalar},
                        "rom_pkg")
    text = (tmp_path / "rom_pkg.sv").read_text()
    lines = [line.strip() for line in text.splitlines() if not line.strip().startswith("//")]
    assert lines == [
        "package rom_pkg;",
        "localparam logic [15:0] THRESHOLDS [4] = '{16'h0003, 16'hfffe, 16'h0010, 16'h0000};",
        "localparam logic [5:0] LUT [2] [3] = '{'{6'h00, 6'h01, 6'h02}, '{6'h03, 6'h04, 6'h05}};",
        "localparam logic [7:0] MAXV = 8'h7e;",
        "endpackage"]
    assert "format int16" not in text and "format s16.0" in text
    big = fxsim.from_bits(np.zeros(4097, np.uint8), "int8")
    with pytest.raises(ValueError, match="4097 codes.*1 to 4096"):
        io.write_sv_package(tmp_path / "b.sv", {"BIG": big})
    with pytest.raises(ValueError, match="not a SystemVerilog identifier"):
        io.write_sv_package(tmp_path / "b.sv", {"logic": scalar})
    with pytest.raises(ValueError, match="not a SystemVerilog identifier"):
        io.write_sv_package(tmp_path / "b.sv", {"T": scalar}, package="9pkg")


def test_cli_vectors_writes_a_sv_package(tmp_path, capsys):
    np.save(tmp_path / "thr-1.npy", np.array([3, -2, 16]))
    assert main(["vectors", str(tmp_path / "thr-1.npy"), "-f", "int16", "--out", str(tmp_path / "v"),
                 "--write", "sv"]) == 0
    text = (tmp_path / "v" / "thr-1.sv").read_text()
    assert "package thr_1_pkg;" in text and \
        "localparam logic [15:0] THR_1 [3] = '{16'h0003, 16'hfffe, 16'h0010};" in text
    capsys.readouterr()
