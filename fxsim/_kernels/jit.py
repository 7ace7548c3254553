"""Numba set-up shared by every kernel module.

Numba's on-disk cache (``cache=True``) keys a kernel on its own source file
only: editing the rounding core in ``core.py`` would leave stale machine
code for kernels in other files.  Unless the user chose ``NUMBA_CACHE_DIR``,
fxsim therefore caches under a directory named after a hash of every file
that can hold compiled code.  By rule (enforced by ``tests/test_layout.py``)
all Numba code lives in the package ``fxsim/_kernels/``, whose modules
import only numpy, numba, llvmlite and each other; so the hash covers exactly
those files, and editing the command line or a Python-level module keeps the
compiled kernels.  This module must be imported before any kernel module
(``fxsim/_kernels/__init__.py`` does so).

First use is visible.  Compiling a kernel family (one kernel module:
``convert``, ``elementwise``, ``gemm``, ``popcount``) takes seconds; the first time a
family really compiles in a process -- not when its machine code loads from
the on-disk cache -- one line goes to stderr::

    fxsim: compiling gemm kernels for this machine, once (cached in DIR)

Set the environment variable ``FXSIM_QUIET_COMPILE=1`` to silence it
(``fxsim warmup`` reports progress its own way).  The notice is a Numba
event listener on ``"numba:compile"``, which Numba fires only around a real
compilation (a cache hit returns before it), so calls of compiled kernels
cost nothing extra.  The line is written to file descriptor 2 directly
(kernel modules import nothing but numpy, numba, llvmlite and a few
standard modules, see above), so it reaches the terminal even while
``sys.stderr`` is redirected, and a program's own stderr output is not
changed by it; in a Jupyter notebook it goes to the server's log.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib

import numba
import numpy as np
from numba.core import event as _event


def _configure_cache() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    here = pathlib.Path(__file__).resolve().parent
    digest = hashlib.sha1()
    for path in sorted(here.glob("*.py")):
        digest.update(str(path.relative_to(here)).encode())
        digest.update(path.read_bytes())
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    numba.config.CACHE_DIR = os.path.join(base, "fxsim", "numba-" + digest.hexdigest()[:16])


_configure_cache()


def cache_dir() -> str:
    """Where Numba keeps fxsim's compiled kernels (see above)."""
    return numba.config.CACHE_DIR or "__pycache__ beside the fxsim sources"


def _family(dispatcher):
    """The kernel family (``gemm`` for ``fxsim._kernels.gemm``) a Numba
    dispatcher belongs to, or None if it is not fxsim's."""
    func = getattr(dispatcher, "py_func", None)
    module = getattr(func, "__module__", None) or ""
    package, _, name = module.rpartition(".")
    return name if package == __name__.rpartition(".")[0] else None


class _CompileNotices(_event.Listener):
    """Counts the real compilations of fxsim kernels and announces the first
    of each family in this process (see the module's docstring).

    Numba compiles under one global lock, so the events of one compilation
    are nested and never interleave with another thread's; functions a
    kernel calls compile inside it and count as part of it."""

    def __init__(self):
        self.depth = 0
        self.quiet = 0            # > 0 inside quiet_compiles()
        self.announced = set()    # families announced in this process
        self.compiles = {}        # family -> kernels compiled in this process

    def on_start(self, event):
        family = _family(event.data.get("dispatcher")) if event.data else None
        if family is None:
            return
        self.depth += 1
        if self.depth > 1:
            return
        self.compiles[family] = self.compiles.get(family, 0) + 1
        if family in self.announced or self.quiet \
                or os.environ.get("FXSIM_QUIET_COMPILE", "") not in ("", "0"):
            return
        self.announced.add(family)
        line = f"fxsim: compiling {family} kernels for this machine, once (cached in {cache_dir()})\n"
        try:
            os.write(2, line.encode("utf-8", "replace"))
        except OSError:  # no stderr: nothing to tell
            pass

    def on_end(self, event):
        if event.data and _family(event.data.get("dispatcher")) is not None:
            self.depth = max(0, self.depth - 1)


_notices = _CompileNotices()
_event.register("numba:compile", _notices)


def compile_counts() -> dict:
    """``{family: kernels compiled so far in this process}`` (cache loads
    are not counted)."""
    return dict(_notices.compiles)


@contextlib.contextmanager
def quiet_compiles():
    """No compile notices inside (for callers that report progress themselves)."""
    _notices.quiet += 1
    try:
        yield
    finally:
        _notices.quiet -= 1


#: Elements per work chunk of the parallel kernels.  Chunks are fixed-size, so
#: which element a chunk holds never depends on the number of threads.
CHUNK = 1 << 14


def kernel_array(x, dtype=None):
    """``x`` as a writeable C-contiguous 1-d array for a kernel.

    Numba compiles a separate specialization for read-only arrays (numpy's
    broadcast views, frozen tables and every QArray's codes are read-only);
    the big kernels take tens of seconds to compile, so every kernel input
    goes through here (a read-only input is copied)."""
    return np.require(x, dtype, ["C", "W"]).reshape(-1)


class _Threads:
    forced = None   # the thread count exact_threads() imposes, or None
    last = 0        # threads the last threads_for() block ran its kernel on


@contextlib.contextmanager
def threads_for(nchunks: int):
    """Run a parallel kernel on at most ``nchunks`` threads.

    Waking idle worker threads costs more than a small array's work (and
    much more when the machine is oversubscribed), so an array of one chunk
    runs on the calling thread alone.  Results never depend on this: the
    chunks are fixed.  Inside :func:`exact_threads` the kernel runs on
    exactly that many threads instead; :func:`last_threads` tells how many
    it had."""
    before = numba.get_num_threads()
    wanted = _Threads.forced if _Threads.forced is not None else max(1, min(before, nchunks))
    if wanted == before:
        _Threads.last = numba.get_num_threads()
        yield
        return
    numba.set_num_threads(wanted)
    _Threads.last = numba.get_num_threads()
    try:
        yield
    finally:
        numba.set_num_threads(before)


@contextlib.contextmanager
def exact_threads(n: int):
    """Inside, every parallel kernel runs on exactly ``n`` threads, however
    small its work (for tests: results must be the same on any number of
    threads).  ``n`` is at most ``numba.config.NUMBA_NUM_THREADS``, the size
    of Numba's thread pool (set by the environment variable of that name;
    by default the number of CPU cores).  On entry :func:`last_threads`
    is reset to 0."""
    if isinstance(n, bool) or not isinstance(n, int) \
            or not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"exact_threads: n must be an int from 1 to NUMBA_NUM_THREADS = "
                         f"{numba.config.NUMBA_NUM_THREADS}, got {n!r}")
    saved = _Threads.forced
    _Threads.forced, _Threads.last = n, 0
    try:
        yield
    finally:
        _Threads.forced = saved


def pool_size() -> int:
    """The size of Numba's thread pool (``NUMBA_NUM_THREADS``, by default the
    number of CPU cores): the most threads a kernel can run on."""
    return numba.config.NUMBA_NUM_THREADS


def last_threads() -> int:
    """The number of threads Numba had for the last parallel kernel run
    through :func:`threads_for` (0: none since entering
    :func:`exact_threads`)."""
    return _Threads.last
