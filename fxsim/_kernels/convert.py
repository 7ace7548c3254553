"""Array kernels of the codec: one conversion loop, run in parallel chunks.

``convert`` reads each source code as an exact value (``split_code`` of the
source format: float16/32/64 bit patterns, integers as fixed point, or any
fxsim format) and rounds it into the destination format (``round_code``).
Encoding, decoding (into float64) and casting are all this one loop.
Arguments are validated by the caller; data errors (NaN into fixed point,
overflow under "raise", codes out of range) are reported per chunk.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import core
from .jit import CHUNK

ERR_CODE = 4  # a source code does not fit the source format


@njit(parallel=True, cache=True)
def convert(src, src_spec, dst_spec, mode, ovf, rnd, R, out, status, where, each):
    """out[i] = the dst code of the value of src code src[i]; the first
    failure of each chunk goes to status[c] / where[c], and every element's
    status to ``each[i]`` if ``each`` is not empty."""
    n = src.size
    use_rnd = rnd.size > 0
    keep_each = each.size > 0
    for c in prange(status.size):
        start = c * CHUNK
        stop = min(n, start + CHUNK)
        for i in range(start, stop):
            code = np.uint64(src[i])
            if code > src_spec.mask:
                st = ERR_CODE
                out[i] = 0
            else:
                neg, M, E, cls = core.split_code(code, src_spec)
                r = rnd[i] if use_rnd else np.uint64(0)
                value, st = core.round_code(neg, M, E, False, cls, dst_spec, mode, ovf, r, R)
                out[i] = value
            if keep_each:
                each[i] = st
            if st != 0 and status[c] == 0:
                status[c] = st
                where[c] = i


@njit(parallel=True, cache=True)
def lookup(table, table_status, src, shift, out, status, where):
    """out[i] = table[2 * (src[i] >> shift) + s], s = 1 if any of the
    ``shift`` low bits of src[i] is set (a table built by ``convert``, see
    ``codec._encode_table``)."""
    n = src.size
    low = (np.uint64(1) << np.uint64(shift)) - np.uint64(1)
    for c in prange(status.size):
        start = c * CHUNK
        stop = min(n, start + CHUNK)
        for i in range(start, stop):
            x = np.uint64(src[i])
            index = ((x >> np.uint64(shift)) << np.uint64(1)) | np.uint64((x & low) != 0)
            out[i] = table[index]
            if table_status[index] != 0 and status[c] == 0:
                status[c] = table_status[index]
                where[c] = i


@njit(parallel=True, cache=True)
def gather(table, codes, out, status, where):
    """out[i] = table[codes[i]] (a decode table built by ``convert``)."""
    n = codes.size
    size = np.uint64(table.size)
    for c in prange(status.size):
        start = c * CHUNK
        stop = min(n, start + CHUNK)
        for i in range(start, stop):
            code = np.uint64(codes[i])
            if code < size:
                out[i] = table[code]
            else:
                out[i] = table[0]
                if status[c] == 0:
                    status[c] = ERR_CODE
                    where[c] = i
