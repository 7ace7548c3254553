"""fxsim.train.data with the real packages: scikit-learn's digits (fixed
seeded split, exact scaling) and mnist1d (shapes, scaling, seeding, the
global random state given back); the ImportError of a missing package
names it; blobs are seeded."""
import random
import sys

import numpy as np
import pytest

from fxsim.train import data


def test_load_digits_split_and_scaling():
    datasets = pytest.importorskip("sklearn.datasets")
    raw = datasets.load_digits()
    d = data.load_digits(0)
    assert d.x_train.shape == (1437, 64) and d.x_test.shape == (360, 64)
    assert d.y_train.dtype == np.int64 and d.classes == 10
    # the split is numpy's permutation of the 1797 indices, test first; pm1 = x/8 - 1 exactly
    perm = np.random.default_rng(0).permutation(1797)
    np.testing.assert_array_equal(d.x_test, raw.data[perm[:360]] / 8.0 - 1.0)
    np.testing.assert_array_equal(d.y_train, raw.target[perm[360:]])
    assert set(np.unique((d.x_train + 1.0) * 8.0)) <= set(range(17))  # the grid of eighths
    assert d.x_train.min() == -1.0 and d.x_train.max() == 1.0
    again = data.load_digits(0)
    np.testing.assert_array_equal(again.x_train, d.x_train)
    other = data.load_digits(1)
    assert not np.array_equal(other.y_test, d.y_test)
    unit = data.load_digits(0, scale="unit", flat=False)
    assert unit.x_train.shape == (1437, 1, 8, 8)
    np.testing.assert_array_equal(unit.x_train.reshape(1437, 64), raw.data[perm[360:]] / 16.0)
    with pytest.raises(ValueError, match="scale must be"):
        data.load_digits(0, scale="std")


def test_mnist1d_small_is_seeded_scaled_and_leaves_global_state():
    pytest.importorskip("mnist1d.data")
    np.random.seed(123)
    random.seed(5)
    before_np, before_py = np.random.get_state()[1].copy(), random.getstate()
    d = data.mnist1d(3, num_samples=200)
    np.testing.assert_array_equal(np.random.get_state()[1], before_np)
    assert random.getstate() == before_py
    assert d.x_train.shape == (160, 40) and d.x_test.shape == (40, 40)
    assert d.x_train.min() == -1.0 and d.x_train.max() == 1.0
    assert set(np.unique(d.y_train)) <= set(range(10))
    again = data.mnist1d(3, num_samples=200)
    np.testing.assert_array_equal(again.x_test, d.x_test)
    assert not np.array_equal(data.mnist1d(4, num_samples=200).x_train, d.x_train)
    with pytest.raises(ValueError, match="unknown dataset argument 'samples'"):
        data.mnist1d(0, samples=10)


def test_missing_package_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"needs the package 'sklearn'.*fxsim\[train\]") as err:
        data.load_digits(0)
    assert err.value.name == "sklearn"


def test_missing_dependency_of_mnist1d_is_named(monkeypatch):
    pytest.importorskip("mnist1d.data")
    for name in [m for m in sys.modules if m == "mnist1d" or m.startswith("mnist1d.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "requests", None)
    with pytest.raises(ImportError, match=r"needs the package 'requests' \(imported by 'mnist1d'\)"):
        data.mnist1d(0, num_samples=20)


def test_blobs_are_seeded():
    a, b, c = data.blobs(1, n_train=30, n_test=10), data.blobs(1, n_train=30, n_test=10), \
        data.blobs(2, n_train=30, n_test=10)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    assert a.x_train.shape == (30, 64) and a.x_test.shape == (10, 64)
