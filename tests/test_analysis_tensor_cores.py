"""The tensor_cores study against independent computations: the reference
oracle (reference/blockfma.py), exact Fraction sums, numpy float32 loops,
and the model's own arithmetic worked out by hand."""
import json
import math
from fractions import Fraction

import numpy as np
import pytest

import fxsim
from fxsim.studies import STUDIES
from fxsim.studies import tensor_cores as T
from reference import blockfma as ref


def test_registered():
    assert "tensor_cores" in STUDIES


def test_exact_sums_are_exact():
    a, b = T.draw("normal", 3, 200, 2, seed=(1, 2))
    exact, size = T.exact_sums(a, b)
    x, y = a.to_float(), b.to_float()
    for i in range(3):
        for j in range(2):
            s = sum(Fraction(float(x[i, k])) * Fraction(float(y[k, j])) for k in range(200))
            assert Fraction(float(exact[i, j])) == s
            assert size[i, j] == math.fsum(abs(x[i, :] * y[:, j]))


def test_methods_match_independent_computations():
    """Each unit through the reference oracle; float32 as a numpy float32 loop."""
    a, b = T.draw("uniform", 2, 70, 2, seed=(3, 4))
    for name in T.PRESETS:
        u = fxsim.linalg.UNITS[name]
        want = ref.matmul(a.bits.tolist(), T.FMT, b.bits.tolist(), T.FMT, None,
                          (u.n, u.frac, u.frac_out, u.min_exp, u.late_c, u.promote))
        want = np.array(want, np.uint32).view(np.float32).astype(np.float64)
        assert np.array_equal(T.through(name, a, b), want), name
    x, y = a.to_float().astype(np.float32), b.to_float().astype(np.float32)
    s = np.zeros((2, 2), np.float32)
    for k in range(70):
        s = s + x[:, k:k + 1] * y[k:k + 1, :]
    assert np.array_equal(T.through("float32", a, b), s.astype(np.float64))


def test_bits_kept_by_hand():
    # 1 + 2**-j: hopper/ada truncate the product on the grid 2**(0 - 13), so
    # j = 13 is kept and 14 is not; float32 rounds 1 + 2**-24 (a tie) to 1;
    # promotion sums the product alone, then adds it in float32.
    got = T.bits_task()["bits"]
    assert got == {"float32": 24, "ada_fp8": 14, "hopper_fp8": 14,
                   "hopper_fp8_promote128": 24, "b200_fp8": 24}


def test_error_task_is_reproducible_and_bounded():
    r1 = T.error_task("uniform", 300, 4, (5, 6))
    r2 = T.error_task("uniform", 300, 4, (5, 6))
    assert r1 == r2 and r1["outputs"] == 4 * T.COLUMNS
    st = r1["stats"]
    # float32 sequential: Higham's bound gamma_K with u = 2**-24
    u = 2.0 ** -24
    assert st["float32"]["max"] <= 300 * u / (1 - 300 * u)
    # truncation toward zero on positive data: promotion cannot be worse here
    assert st["hopper_fp8_promote128"]["median"] <= st["hopper_fp8"]["median"]
    # every block step of hopper truncates at most 2**-13 relative per term:
    # a loose bound, (K + K/n blocks) terms of at most 2**(E-13) each, E <= log2(sum) + 1
    assert st["hopper_fp8"]["max"] <= (300 + 10) * 2.0 ** -12


def test_zero_floor_is_below_every_value():
    assert T.zero_floor([0.0, 1e-3]) == T.ZERO_FLOOR
    assert T.zero_floor([0.0, 2.0 ** -50]) == 2.0 ** -53
    assert T.zero_floor([0.0, 0.0]) == T.ZERO_FLOOR


def test_quick_study_writes_its_section(tmp_path, monkeypatch):
    monkeypatch.setattr(T, "ks", lambda quick: [64, 256])
    monkeypatch.setattr(T, "rows", lambda k, quick: 4)
    tasks = T.tasks(True)
    assert len(tasks) == 1 + 2 * len(T.DISTRIBUTIONS)
    results = [t.func(**t.kwargs) for t in tasks]
    sec = T.summarize(results, tmp_path, True)
    assert sec.title == T.TITLE
    assert sorted(sec.figures) == ["tensor_cores_bits.png", "tensor_cores_error.png"]
    for f in sec.figures:
        assert (tmp_path / f).stat().st_size > 10_000
    n = sec.numbers
    json.dumps(n)
    assert n["bits_kept_hopper_fp8"] == 14 and n["k_min"] == 64
    assert results[2]["dist"] == "uniform" and results[2]["k"] == 256
    assert n["uniform_hopper_fp8_median_k256"] == results[2]["stats"]["hopper_fp8"]["median"]
    assert all(math.isfinite(v) for v in n.values())
    assert "About 14 bits" in sec.markdown and "What promotion buys" in sec.markdown
