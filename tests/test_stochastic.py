"""Stochastic rounding: the stated rule, reproducibility, thread independence."""
import math
from fractions import Fraction

import numba
import numpy as np
import pytest

import fxsim
from fxsim._kernels import jit


@pytest.mark.parametrize("x", [0.3, -0.3, 2.71875, -2.71875, 5.0, -1.0625, 0.0])
@pytest.mark.parametrize("fmt", ["s8.0", "s8.2", "e4m3fn", "float4_e2m1fn"])
def test_counts_over_every_random_value(x, fmt):
    """With R bits, exactly floor(f * 2**R) of the 2**R random values round
    up (f: the fraction of an ulp; two's complement for fixed point, the
    magnitude's for floats): the definition, checked by counting."""
    fmt = fxsim.format(fmt)
    R = 5
    r = np.arange(1 << R, dtype=np.uint64)
    xs = np.full(r.size, x)
    got = fxsim.decode(fxsim.encode(xs, fmt, "stochastic", random=r, random_bits=R), fmt)
    down = fxsim.decode(fxsim.encode([x], fmt, "down" if not fmt.is_float else "toward_zero"), fmt)[0]
    up = fxsim.decode(fxsim.encode([x], fmt, "up" if not fmt.is_float else "away"), fmt)[0]
    if down == up:  # exact: never moves
        assert (got == x).all()
        return
    f = (Fraction(x) - Fraction(down)) / (Fraction(up) - Fraction(down))
    assert 0 < f < 1
    assert set(got) <= {down, up}
    assert int((got == up).sum()) == math.floor(f * (1 << R))
    # and the rule picks the *largest* random values: up iff floor(f*2**R) + r >= 2**R
    assert ((got == up) == (r + math.floor(f * (1 << R)) >= (1 << R))).all()


@pytest.mark.parametrize("fmt", ["s8.2", "float8_e5m2"])
def test_stochastic_equal_rounds_up_for_half_the_random_values(fmt):
    R = 4
    r = np.arange(1 << R, dtype=np.uint64)
    inexact = fxsim.decode(fxsim.encode(np.full(16, 1.3), fmt, "stochastic_equal", random=r,
                                        random_bits=R), fmt)
    assert len(set(inexact)) == 2 and (inexact == inexact.max()).sum() == 8
    exact = fxsim.decode(fxsim.encode(np.full(16, 1.25), fmt, "stochastic_equal", random=r,
                                      random_bits=R), fmt)
    assert (exact == 1.25).all()


def test_unbiased_on_average():
    """E[round(x)] = x up to 2**-R: the mean of many stochastic roundings of
    0.3 onto the integers is within 5 standard errors of 0.3."""
    n = 1_000_000
    got = fxsim.quantize(np.full(n, 0.3), "s8.0", "stochastic", rng=np.random.default_rng(7))
    sigma = math.sqrt(0.3 * 0.7 / n)
    assert abs(got.mean() - 0.3) < 5 * sigma


def test_same_seed_same_bits_and_generator_equivalence():
    x = np.random.default_rng(0).normal(size=100_000)
    a = fxsim.encode(x, "e4m3fn", "stochastic", rng=123)
    b = fxsim.encode(x, "e4m3fn", "stochastic", rng=np.random.default_rng(123))
    c = fxsim.encode(x, "e4m3fn", "stochastic", rng=124)
    assert (a == b).all() and (a != c).any()
    # rng= draws random_bits-bit integers in C order: the same as passing them
    r = np.random.default_rng(123).integers(0, (1 << 32) - 1, size=x.size, dtype=np.uint64,
                                            endpoint=True)
    assert (fxsim.encode(x, "e4m3fn", "stochastic", random=r) == a).all()


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                    reason="needs a Numba thread pool of at least 2 (NUMBA_NUM_THREADS)")
def test_results_do_not_depend_on_thread_count():
    x = np.random.default_rng(1).normal(size=200_000) * 100
    r = np.random.default_rng(2).integers(0, 1 << 32, size=x.size, dtype=np.uint64)
    results = []
    for threads in (1, 2):
        with jit.exact_threads(threads):
            run = []
            for call in (lambda: fxsim.encode(x, "e4m3fn", "stochastic", random=r),
                         lambda: fxsim.encode(x, "s12.4", "nearest_even", "wrap"),
                         lambda: fxsim.decode(np.arange(1 << 16), "bfloat16")):
                run.append(call())
                assert jit.last_threads() == threads  # the kernel really ran on that many
        results.append(run)
    for a, b in zip(*results):
        assert (a.view(np.uint64) == b.view(np.uint64)).all()
