"""Data for :mod:`fxsim.train`, offline and seeded.

A :class:`Dataset` holds float64 ``x_train``/``x_test`` and int64
``y_train``/``y_test`` (class indices) and ``name``.

* :func:`blobs` -- synthetic Gaussian blobs of ``shape`` "images" (default
  8x8, 10 classes), for tests: class ``c`` has a centre ``mu_c ~
  N(0, 1)`` per pixel, samples ``mu_c + spread * N(0, 1)``; labels cycle
  ``0..classes-1`` and are then shuffled; all from
  :func:`fxsim.train.quant.generator` ``(seed, "data", "blobs", 0)``.
* :func:`load_digits` -- scikit-learn's 8x8 digits (1797 images, pixel
  values 0..16), scaled to [-1, 1] as BinaryNet scales MNIST (``2 * x01 -
  1``; here ``x / 8 - 1``, exact), or to [0, 1] (``x / 16``) with
  ``scale="unit"``; a fixed seeded split: ``permutation`` by
  ``numpy.random.default_rng(seed)`` of the 1797 indices, the first
  ``n_test`` (default 360, 20%) the test set, both kept in that order.
* :func:`mnist1d` -- MNIST-1D (``mnist1d.data.make_dataset``, 4000 train /
  1000 test signals of length 40 by default) generated with ``args.seed =
  seed``; scaled to [-1, 1] by the train set's range: ``(x - lo) / (hi -
  lo) * 2 - 1`` with ``lo``, ``hi`` the train set's min and max (the same
  affine map for the test set, whose values may leave [-1, 1]).
  ``make_dataset`` reseeds numpy's and Python's global random state (its
  own code, ``mnist1d.utils.set_seed``); both are restored afterwards.
  (mnist1d 0.0.2 imports ``matplotlib`` and ``requests`` at import time:
  they must be installed, though nothing is drawn or downloaded.)

Both need optional packages, imported only when called; without them an
``ImportError`` names the missing package and the extra: ``pip install
'fxsim[train]'``.  scikit-learn's digits ship inside its wheel and
``make_dataset`` generates MNIST-1D: nothing is downloaded.

:func:`batches` yields ``(x, y)`` mini-batches, shuffled per epoch by
``generator(seed, "data", "shuffle", epoch)``.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from .quant import generator

__all__ = ["Dataset", "blobs", "load_digits", "mnist1d", "batches", "num_batches", "EXTRA"]

EXTRA = "pip install 'fxsim[train]'"


@dataclass
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = ""

    @property
    def classes(self):
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    def images(self, shape):
        """The same data with every sample reshaped to ``shape`` (e.g.
        ``(1, 8, 8)`` for a CNN)."""
        n = lambda a: a.reshape((len(a),) + tuple(shape))  # noqa: E731
        return Dataset(n(self.x_train), self.y_train, n(self.x_test), self.y_test, self.name)


def _need(module, what):
    """Import ``module`` for loader ``what``; an ImportError names the
    package that is missing (``mnist1d`` itself imports ``matplotlib`` and
    ``requests``) and the extra, and keeps that package's name in ``.name``."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as e:
        missing = (e.name or module).split(".")[0]
        via = "" if missing == module.split(".")[0] else f" (imported by {module.split('.')[0]!r})"
        raise ImportError(f"fxsim.train.data.{what} needs the package {missing!r}{via}, which is "
                          f"not importable: {EXTRA}", name=missing) from e


def blobs(seed=0, *, n_train=400, n_test=200, classes=10, shape=(8, 8), spread=1.0, flat=True):
    """Seeded Gaussian blobs (see the module doc); ``flat=True`` gives
    (N, prod(shape)) samples, else (N,) + shape."""
    g = generator(int(seed), "data", "blobs", 0)
    d = int(np.prod(shape))
    centres = g.normal(size=(classes, d))
    n = n_train + n_test
    y = g.permutation(np.arange(n) % classes).astype(np.int64)
    x = centres[y] + spread * g.normal(size=(n, d))
    if not flat:
        x = x.reshape((n,) + tuple(shape))
    return Dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:], f"blobs(seed={seed})")


def load_digits(seed=0, *, n_test=360, scale="pm1", flat=True):
    """scikit-learn's digits with a fixed seeded split (see the module
    doc); ``flat=False`` gives (N, 1, 8, 8) images."""
    if scale not in ("pm1", "unit"):
        raise ValueError(f"load_digits: scale must be 'pm1' or 'unit', got {scale!r}")
    ds = _need("sklearn.datasets", "load_digits")
    bunch = ds.load_digits()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    x = x / 8.0 - 1.0 if scale == "pm1" else x / 16.0
    if not flat:
        x = x.reshape(len(x), 1, 8, 8)
    perm = np.random.default_rng(int(seed)).permutation(len(x))
    te, tr = perm[:n_test], perm[n_test:]
    return Dataset(x[tr], y[tr], x[te], y[te], f"digits(seed={seed})")


def mnist1d(seed=0, **args):
    """MNIST-1D generated with ``seed`` (see the module doc); ``args``
    override fields of ``mnist1d.data.get_dataset_args()`` (e.g.
    ``num_samples``)."""
    md = _need("mnist1d.data", "mnist1d")
    a = md.get_dataset_args(as_dict=False)
    a.seed = int(seed)
    for k, v in args.items():
        if k not in vars(a):
            raise ValueError(f"mnist1d: unknown dataset argument {k!r}; the arguments are "
                             f"{', '.join(sorted(vars(a)))}")
        setattr(a, k, v)
    # make_dataset reseeds numpy's and Python's global random state: give them back
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = md.make_dataset(a)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    xtr = np.asarray(d["x"], dtype=np.float64)
    xte = np.asarray(d["x_test"], dtype=np.float64)
    lo, hi = float(xtr.min()), float(xtr.max())
    f = lambda v: (v - lo) / (hi - lo) * 2.0 - 1.0  # noqa: E731
    return Dataset(f(xtr), np.asarray(d["y"], dtype=np.int64), f(xte),
                   np.asarray(d["y_test"], dtype=np.int64), f"mnist1d(seed={seed})")


def batches(x, y, batch_size, *, seed=0, epoch=0, shuffle=True, drop_last=False):
    """Mini-batches ``(x[idx], y[idx])`` of ``batch_size`` in the order of a
    permutation drawn from ``generator(seed, "data", "shuffle", epoch)``
    (``shuffle=False``: in order); the last short batch is kept unless
    ``drop_last``."""
    n = len(x)
    if len(y) != n:
        raise ValueError(f"batches: {n} samples but {len(y)} labels")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batches: batch_size must be an integer >= 1, got {batch_size!r}")
    batch_size = int(batch_size)
    order = generator(int(seed), "data", "shuffle", int(epoch)).permutation(n) if shuffle \
        else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for i in range(0, stop, batch_size):
        idx = order[i:i + batch_size]
        yield x[idx], y[idx]


def num_batches(n, batch_size, drop_last=False):
    """How many batches :func:`batches` yields for ``n`` samples."""
    return n // batch_size if drop_last else -(-n // batch_size)

