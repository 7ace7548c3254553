"""fxsim explain-dot: one dot product of matmul, step by step.

Every running sum it prints is checked against reference/linalg.py (the
stdlib oracle): the sum after step k of the sequential order (and after
block j of blocks of B) is the reference matmul of the first products; the
final code is the reference matmul's for every order, pairwise included."""
import re
from fractions import Fraction

import numpy as np
import pytest

import fxsim
import reference as ref
from fxsim.cli import main
from fxsim.explain_dot import explain_dot
from oracle import ref_format

CASES = [("float8_e4m3fn", "float8_e5m2"), ("float8_e4m3fn", "float16"), ("float8_e5m2", "bfloat16"),
         ("int8", "s8.0"), ("s4.2", "s6.2")]


def _after_codes(text):
    return [int(m, 16) for m in re.findall(r"^  after     s = 0x([0-9a-f]+)", text, flags=re.M)]


def _result_code(text):
    return int(re.search(r"^result     0x([0-9a-f]+)", text, flags=re.M).group(1), 16)


def _ref_dot(a, b, fa, fb, acc, order, c=None, overflow=None):
    out = ref.matmul([list(a)], ref_format(fa), [[x] for x in b], ref_format(fb),
                     c=None if c is None else [[c]], fc=None if c is None else ref_format(acc),
                     acc=ref_format(acc), order=order, overflow=overflow)
    return out[0][0]


@pytest.mark.parametrize("operand, acc", CASES)
@pytest.mark.parametrize("order", ["sequential", 3, "pairwise"])
def test_steps_and_result_match_the_reference(operand, acc, order):
    fa, facc = fxsim.format(operand), fxsim.format(acc)
    overflow = "wrap" if not facc.is_float else None
    rng = np.random.default_rng(len(operand) * 7 + len(acc))
    for trial in range(4):
        k = 1 + trial * 2
        codes_a = rng.integers(0, 1 << fa.width, size=k)
        codes_b = rng.integers(0, 1 << fa.width, size=k)
        qa, qb = fxsim.from_bits(codes_a, fa), fxsim.from_bits(codes_b, fa)
        if not all(np.isfinite(qa.to_float())) or not all(np.isfinite(qb.to_float())):
            keep = np.isfinite(qa.to_float()) & np.isfinite(qb.to_float())
            qa, qb = qa[np.flatnonzero(keep)], qb[np.flatnonzero(keep)]
            codes_a, codes_b = codes_a[keep], codes_b[keep]
            k = qa.size
            if not k:
                continue
        c = None if trial % 2 else int(fxsim.encode(Fraction(3, 4), facc))
        qc = None if c is None else fxsim.from_bits(np.array([c]), facc)
        text = explain_dot(qa, qb, acc=facc, order=order, c=qc, overflow=overflow)
        a, b = [int(x) for x in codes_a], [int(x) for x in codes_b]
        assert _result_code(text) == _ref_dot(a, b, fa, fa, facc, order, c, overflow), text
        assert "(the same code)" in text
        if order != "pairwise":
            size = 1 if order == "sequential" else order
            ends = list(range(size, k, size)) + [k]
            want = [_ref_dot(a[:e], b[:e], fa, fa, facc, order, c, overflow) for e in ends]
            assert _after_codes(text) == want, text


def test_named_steps():
    # 100 + 100 wraps in int8 (200 - 256 = -56), then + 27 = -29
    text = explain_dot([100, 100, 27], [1, 1, 1], "int8", acc="int8", overflow="wrap")
    assert _after_codes(text) == [100, 0xc8, 0xe3]
    assert "overflow=wrap gives 0xc8" in text and "total error -256" in text
    # e5m2 accumulator: -10 + 12.25 = 2.25, a tie between 2 and 2.5: even -> 2
    text = explain_dot([1.5, 2, -3, 0.125, 7], [0.5, 0.25, 4, 3, 1.75], "float8_e4m3fn",
                       acc="float8_e5m2", step=4)
    assert "step 4" in text and "step 3" not in text and "exact     9/4" in text
    assert "tie -> even" in text and "after     s = 0x40 = 2" in text
    # blocks of 2: the products of a block are summed exactly before the one rounding
    text = explain_dot([1, 2, 3, 4], [1, 1, 1, 1], "float8_e4m3fn", acc="float8_e5m2", order=2)
    assert "block k=0..1" in text and "the products summed exactly: 3" in text


def test_errors_and_cli(capsys):
    with pytest.raises(ValueError, match="lengths differ"):
        explain_dot([1, 2], [1], "int8", acc="int8")
    with pytest.raises(ValueError, match="stochastic"):
        explain_dot([1], [1], "int8", acc="int8", rounding="stochastic")
    with pytest.raises(ValueError, match="finite operands"):
        explain_dot([float("nan")], [1], "float8_e4m3fn", acc="float16")
    assert main(["explain-dot", "--a", "1.5,2,-3", "--b", "0.5,0.25,4", "-f", "e4m3fn",
                 "--acc", "float16", "--order", "pairwise"]) == 0
    assert "fxsim.matmul gives" in capsys.readouterr().out
    assert main(["explain-dot", "--a", "1,2", "--b", "1,1", "-f", "int8", "--acc", "int8",
                 "--order", "zero"]) == 2
    assert "--order" in capsys.readouterr().err
    assert main(["explain-dot", "--a", "1,2", "--b", "1,1", "-f", "int8", "--acc", "int8",
                 "--step", "5"]) == 2
    assert "step must be 0 .. 1" in capsys.readouterr().err


@pytest.mark.parametrize("unit", ["ada_fp8", "b200_fp8"])
def test_one_block_step_of_a_matrix_unit(unit):
    """The block step fxsim.linalg_units.explain_block computes with Fractions
    (here for every block of a 40-product dot product, its c the chain's value
    before it) equals the chain's value fxsim.matmul's kernel gives after it."""
    rng = np.random.default_rng(5)
    fmt = fxsim.format("float8_e4m3fn")
    a = fxsim.asarray(rng.normal(size=40), fmt)
    b = fxsim.asarray(rng.normal(size=40), fmt)
    n = fxsim.linalg_units.UNITS[unit].n
    for j in range(-(-40 // n)):
        text = explain_dot(a, b, order=unit, c=Fraction(1, 3), step=j)
        block = re.search(r"block result = (\S+) \(float32 0x([0-9A-F]{8})\)", text)
        after = re.search(r"fxsim.matmul over k < (\d+): 0x([0-9a-f]+) =", text)
        assert int(after.group(1)) == min((j + 1) * n, 40)
        assert int(block.group(2), 16) == int(after.group(2), 16), text
    with pytest.raises(ValueError, match="promote"):
        explain_dot(a, b, order="hopper_fp8_promote128")
    with pytest.raises(ValueError, match="step must be a block 0 .. "):
        explain_dot(a, b, order=unit, step=99)
