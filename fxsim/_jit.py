"""Numba set-up shared by every kernel module.

Numba's on-disk cache (``cache=True``) keys a kernel on its own source file
only: editing the rounding core in ``_round.py`` would leave stale machine
code for kernels in other files.  Unless the user chose ``NUMBA_CACHE_DIR``,
fxsim therefore caches under a directory named after a hash of every file
that can hold compiled code.  By rule (enforced by ``tests/test_jit_layout.py``)
all Numba code lives in the top-level ``fxsim/_*.py`` modules, which import
only numpy, numba, llvmlite and each other; so the hash covers exactly those
files, and editing the command line or a Python-level module keeps the
compiled kernels.  This module must be imported before any kernel module
(``fxsim/__init__.py`` does so).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib

import numba
import numpy as np


def _configure_cache() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    here = pathlib.Path(__file__).resolve().parent
    digest = hashlib.sha1()
    for path in sorted(here.glob("_*.py")):
        digest.update(str(path.relative_to(here)).encode())
        digest.update(path.read_bytes())
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    numba.config.CACHE_DIR = os.path.join(base, "fxsim", "numba-" + digest.hexdigest()[:16])


_configure_cache()

#: Elements per work chunk of the parallel kernels.  Chunks are fixed-size, so
#: which element a chunk holds never depends on the number of threads.
CHUNK = 1 << 14


def kernel_array(x, dtype=None):
    """``x`` as a writeable C-contiguous 1-d array for a kernel.

    Numba compiles a separate specialization for read-only arrays (numpy's
    broadcast views and frozen tables are read-only); the big kernels take
    tens of seconds to compile, so every kernel input goes through here."""
    return np.require(x, dtype, ["C", "W"]).reshape(-1)


@contextlib.contextmanager
def threads_for(nchunks: int):
    """Run a parallel kernel on at most ``nchunks`` threads.

    Waking idle worker threads costs more than a small array's work (and
    much more when the machine is oversubscribed), so an array of one chunk
    runs on the calling thread alone.  Results never depend on this: the
    chunks are fixed."""
    before = numba.get_num_threads()
    wanted = max(1, min(before, nchunks))
    if wanted == before:
        yield
        return
    numba.set_num_threads(wanted)
    try:
        yield
    finally:
        numba.set_num_threads(before)
