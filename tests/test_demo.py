"""The end-to-end demo and the vectors/diff commands.

The demo's golden files are re-read and re-derived from the files alone
with plain numpy integers and reference/requant.py (a literal transcription
of the gemmlowp C++): each layer's vectors must follow from the previous
layer's vectors and the stored parameters, bit for bit."""
import json

import numpy as np
import pytest

from fxsim import from_bits, io
from fxsim.cli import main
from fxsim.codec import decode
from reference import requant as ref_requant


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    from fxsim import demo

    out = tmp_path_factory.mktemp("demo")
    assert demo.run(str(out), samples=6, train=256, seed=3) == 0
    return out


def _values(q):
    return np.asarray(decode(q.bits, q.fmt), dtype=np.float64).astype(np.int64)


def _pm1(q):
    return np.where(q.bits == 1, -1, 1).astype(np.int64)  # code 1 = -1


def _conv(x, w, stride):
    n, c, h, wd = x.shape
    o = w.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ho, wo = (h - 1) // stride + 1, (wd - 1) // stride + 1
    out = np.zeros((n, o, ho, wo), dtype=np.int64)
    for i in range(3):
        for j in range(3):
            patch = xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return out


def test_demo_vectors_reread_to_the_same_bits(demo_dir):
    arrays, manifest = io.read_npz(demo_dir / "golden.npz")
    assert manifest["layers"][0] == "input" and manifest["layers"][-1] == "logits"
    assert json.loads((demo_dir / "manifest.json").read_text()) == manifest
    assert len(arrays) == 21
    for name, q in arrays.items():
        text = io.read_memh(demo_dir / f"{name}.memh", q.fmt, q.shape)
        assert np.array_equal(text.bits, q.bits), name


def test_demo_layers_follow_from_the_files(demo_dir):
    a, _ = io.read_npz(demo_dir / "golden.npz")
    x = _values(a["input"])
    assert a["input"].fmt.name == "u8.0" and x.min() >= 0 and x.max() <= 255
    acc1 = _conv(x, _pm1(a["conv1.weight"]), 1)
    assert np.array_equal(acc1, _values(a["conv1.acc"]))
    t1 = _values(a["act1.threshold"])[None, :, None, None]
    act1 = np.where(acc1 >= t1, 1, -1)
    assert np.array_equal(act1, _pm1(a["act1"]))
    acc2 = _conv(act1, _pm1(a["conv2.weight"]), 2)
    assert np.array_equal(acc2, _values(a["conv2.acc"]))
    act2 = np.where(acc2 >= _values(a["act2.threshold"])[None, :, None, None], 1, -1)
    assert np.array_equal(act2, _pm1(a["act2"]))
    acc3 = _conv(act2, _pm1(a["conv3.weight"]), 2)
    assert np.array_equal(acc3, _values(a["conv3.acc"]))
    m0, sh, bias = (_values(a[f"act3.{k}"]) for k in ("m0", "shift", "bias"))
    act3 = np.array([[[[ref_requant.requantize(int(acc3[n, c, i, j]), int(bias[c]), int(m0[c]),
                                               int(sh[c]), 0)
                        for j in range(acc3.shape[3])] for i in range(acc3.shape[2])]
                      for c in range(acc3.shape[1])] for n in range(acc3.shape[0])])
    assert np.array_equal(act3, _values(a["act3"]))
    fc_acc = act3.reshape(len(act3), -1) @ _values(a["fc.weight"])
    assert np.array_equal(fc_acc, _values(a["fc.acc"]))
    fb, lm0, lsh = _values(a["fc.bias"]), _values(a["logits.m0"]), _values(a["logits.shift"])
    assert fb.shape == lm0.shape == lsh.shape == (10,)  # per output channel
    logits = np.array([[ref_requant.requantize(int(v), int(fb[c]), int(lm0[c]), int(lsh[c]), 0)
                        for c, v in enumerate(row)] for row in fc_acc])
    assert np.array_equal(logits, _values(a["logits"]))


def test_demo_prints_the_summary(demo_dir, capsys, tmp_path):
    from fxsim import demo

    assert demo.run(str(tmp_path), samples=4, train=128, seed=0) == 0
    out = capsys.readouterr().out
    assert "all bit-exact checks passed" in out
    for layer in ("conv1", "act1", "conv2", "act2", "conv3", "act3", "fc", "logits"):
        assert f"\n  {layer} " in out
    assert "0 of 4096" in out  # conv2 outputs: 4 x 64 x 8 x 8, none differs from numpy
    assert "1 of 40 differ" in out and "integer" in out  # the injected fault, found


def test_vectors_and_diff_commands(tmp_path, capsys):
    values = np.array([[0.1, -2.5, 448.0], [1e-3, 3.0, -0.0]])
    np.save(tmp_path / "x.npy", values)
    out = tmp_path / "vec"
    assert main(["vectors", str(tmp_path / "x.npy"), "--format", "float8_e4m3fn", "--out", str(out),
                 "--write", "memh,memb,coe,npz"]) == 0
    text = capsys.readouterr().out
    assert "encoded 6 values" in text and "x.coe" in text
    # e4m3fn codes by hand: 0.1 -> 0x1d (1.625 * 2**-4 = 0.1015625), -2.5 -> 0xc2,
    # 448 -> 0x7e, 1e-3 -> 0x01 (the smallest subnormal 2**-9), 3 -> 0x44, -0 -> 0x80
    assert (out / "x.memh").read_text().split() == ["1d", "c2", "7e", "01", "44", "80"]
    q, manifest = io.read_npz(out / "x.npz")
    assert q["x"].shape == (2, 3) and manifest["rounding"] == "nearest_even"
    for ext in ("memh", "memb", "coe"):
        assert main(["diff", str(out / "x.npz"), str(out / f"x.{ext}"), "-f", "float8_e4m3fn"]) == 0
    assert "0 of 6 differ (ok)" in capsys.readouterr().out
    # one flipped bit: mantissa bit 1 of element (1, 1): 0x44 -> 0x46 (3 -> 3.5)
    lines = (out / "x.memh").read_text().split()
    lines[4] = "46"
    (tmp_path / "dut.memh").write_text("\n".join(lines) + "\n")
    assert main(["diff", str(out / "x.npz"), str(tmp_path / "dut.memh")]) == 1
    report = capsys.readouterr().out
    assert "1 of 6 differ" in report
    row = report.splitlines()[-1].split()
    assert row[:4] == ["(1,", "1)", "44", "46"] and "mantissa" in row and row[-1] == "1" and "+2" in row


def test_vectors_and_diff_errors(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.array([1.0, 2.0]))
    assert main(["vectors", str(tmp_path / "x.npy"), "-f", "s8.4", "--out", str(tmp_path), "--write", "vhd"]) == 2
    assert "unknown kind 'vhd'" in capsys.readouterr().err
    assert main(["vectors", str(tmp_path / "x.npy"), "-f", "s8.4", "--out", str(tmp_path), "--seed", "1"]) == 2
    assert "stochastic" in capsys.readouterr().err
    assert main(["vectors", str(tmp_path / "x.npy"), "-f", "s8.4", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["diff", str(tmp_path / "x.memh"), str(tmp_path / "x.memh")]) == 2
    assert "give its format" in capsys.readouterr().err
    (tmp_path / "short.memh").write_text("10\n")
    assert main(["diff", str(tmp_path / "x.memh"), str(tmp_path / "short.memh"), "-f", "s8.4"]) == 2
    assert "shapes differ" in capsys.readouterr().err
    (tmp_path / "bad.memh").write_text("10\ngg\n")
    assert main(["diff", str(tmp_path / "x.memh"), str(tmp_path / "bad.memh"), "-f", "s8.4"]) == 2
    assert "line 2" in capsys.readouterr().err


def test_fast_memh_reader_matches_line_reader(tmp_path):
    # the numpy reader (plain files) against the line-by-line one (forced by a comment)
    rng = np.random.default_rng(5)
    for fmt in ("s32.0", "u64.0", "e5m2", "s12.3"):
        width = {"s32.0": 32, "u64.0": 64, "e5m2": 8, "s12.3": 12}[fmt]
        codes = rng.integers(0, 2 ** min(width, 63), 500, dtype=np.uint64) << np.uint64(width > 63)
        q = from_bits(codes, fmt)
        io.write_memh(tmp_path / "a.memh", q)
        io.write_memb(tmp_path / "a.memb", q)
        plain = io.read_memh(tmp_path / "a.memh", fmt)
        (tmp_path / "b.memh").write_text("// comment\n" + (tmp_path / "a.memh").read_text())
        commented = io.read_memh(tmp_path / "b.memh", fmt)
        assert np.array_equal(plain.bits, q.bits) and np.array_equal(commented.bits, q.bits)
        assert np.array_equal(io.read_memb(tmp_path / "a.memb", fmt).bits, q.bits)
    (tmp_path / "c.memh").write_text("fff\n1000\n")  # 0x1000 is out of range for 12 bits
    with pytest.raises(ValueError, match="line 2.*out of range"):
        io.read_memh(tmp_path / "c.memh", "s12.3")
