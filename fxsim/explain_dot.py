"""One dot product of :func:`fxsim.matmul`, shown step by step: every
accumulation step with the exact product(s), the running sum before, the
exact sum, the sum after rounding into the accumulator, and why it rounded
that way.

The numbers are matmul's own: after each step the running sum shown is
``fxsim.matmul`` of the operands so far (sequential order: the first
``k + 1`` products; blocks of B: the first blocks), so the listing and
matmul cannot disagree; the pairwise order's tree is built with
:func:`fxsim.ops.add` (as matmul builds it) and its root checked against
matmul's result.  The "why" of each rounding is :func:`fxsim.explain.explain_value`
of the exact sum into the accumulator (the same ``fxsim.encode`` call).

What is exact: products (no ``mul`` format here), the sums before
rounding (Fractions).  What is rounded: each step's sum, once, into
``acc`` with the accumulator's rounding and overflow.
"""
from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np

from . import codec, linalg, linalg_units, ops
from . import formats as _formats
from .array import QArray, wrap_codes
from .explain import explain_value
from .linalg_stepwise import accumulator_modes, product_format_or_none

__all__ = ["MAX_K", "explain_dot"]

#: the longest dot product shown
MAX_K = 256


def _operand(x, fmt, what):
    if isinstance(x, QArray):
        if fmt is not None and _formats.format(fmt) != x.fmt:
            raise ValueError(f"explain_dot: {what} is in format {x.fmt.name}, not "
                             f"{_formats.format(fmt).name}")
        q = x.reshape(-1)
    else:
        if fmt is None:
            raise ValueError(f"explain_dot: give the format of {what}")
        fmt = _formats.format(fmt)
        values = np.empty(len(x), dtype=object)
        values[:] = list(x)
        q = wrap_codes(np.asarray(codec.encode(values, fmt)).reshape(-1), fmt)
    for i, v in enumerate(q.to_exact().tolist()):
        if not isinstance(v, Fraction):
            raise ValueError(f"explain_dot: {what}[{i}] is {v} (format {q.fmt.name}); the "
                             "step-by-step view shows finite operands only")
    return q


def _show(v) -> str:
    if isinstance(v, float):
        return repr(v)
    if v.denominator == 1:
        return str(v.numerator)
    f = float(v)
    return f"{v} ({f!r})" if Fraction(f) == v else f"{v} (~{f!r})"


def _code(q) -> str:
    """``0x.. = value`` of a 0-d (or one-element) QArray."""
    code = int(q.bits.reshape(-1)[0])
    value = q.to_exact().reshape(-1)[0]
    sign = "-" if value == 0 and q.fmt.is_float and q.fmt.signed and code >> (q.fmt.width - 1) else ""
    return f"0x{code:x} = {sign}{_show(value)}"


def _value(q):
    return q.to_exact().reshape(-1)[0]


def _rounding_lines(exact_sum, after, acc, racc, oacc):
    """The rounding of one step: explain_value of the exact sum, checked
    against the code matmul produced."""
    e = explain_value(exact_sum, acc, racc, oacc)
    got = int(after.bits.reshape(-1)[0])
    lines = []
    held = _value(after)
    if isinstance(held, Fraction) and held == exact_sum:
        lines.append("  rounding  none: the exact sum is a value of the accumulator")
    else:
        why = next(line for line in e.text.splitlines() if line.startswith("why"))[11:]
        err = "" if not isinstance(held, Fraction) else f"; error {_show(held - exact_sum)}"
        lines.append(f"  rounding  {why}{err}")
        if e.overflowed:
            over = next(line for line in e.text.splitlines() if line.startswith("overflow"))[11:]
            lines.append(f"  overflow  {over}")
    magnitude = (1 << (acc.width - 1)) - 1 if acc.is_float and acc.signed else -1
    same_zero = exact_sum == 0 and e.code is not None and (e.code & magnitude) == (got & magnitude)
    if e.code is not None and e.code != got and not same_zero:  # zero sums: IEEE sign rules
        lines.append(f"  note      fxsim.encode of the exact sum gives 0x{e.code:x}; matmul's step "
                     f"gives 0x{got:x}")
    return lines


def explain_dot(a, b, fmt_a=None, fmt_b=None, *, acc=None, order="sequential", c=None,
                rounding="nearest_even", overflow=None, step=None) -> str:
    """Show ``c + a . b`` as :func:`fxsim.matmul` computes it with accumulator
    ``acc`` in ``order`` ("sequential", "pairwise" or a block size B).

    ``a``/``b``: 1-d QArrays, or numbers rounded (nearest_even) into
    ``fmt_a``/``fmt_b`` first; ``c``: a QArray (one element) or a number
    rounded (nearest_even) into ``acc``.  ``step``: show only that step
    (0-based, as numbered in the listing).

    ``order`` may also be a hardware matrix unit (a :class:`fxsim.linalg_units.BlockFMA`
    or a preset name of ``fxsim.linalg_units.UNITS``, e.g. ``"hopper_fp8"``;
    ``acc`` is then not used): the view shows one block step of the unit --
    block ``step`` (default 0), its c being the chain's value after the
    blocks before it -- as :func:`fxsim.linalg_units.explain_block` does."""
    if isinstance(order, str) and order in linalg_units.UNITS:
        order = linalg_units.UNITS[order]
    fmt_b = fmt_a if fmt_b is None else fmt_b
    if linalg_units.is_unit(order):
        return _unit_step(order, _operand(a, fmt_a, "a"), _operand(b, fmt_b, "b"), c, step)
    if acc is None:
        raise ValueError("explain_dot: give the accumulator's format acc= (or a matrix unit as order=)")
    acc = _formats.format(acc)
    qa, qb = _operand(a, fmt_a, "a"), _operand(b, fmt_b, "b")
    k = qa.size
    if qb.size != k:
        raise ValueError(f"explain_dot: a has {k} elements, b {qb.size}: lengths differ")
    if not 1 <= k <= MAX_K:
        raise ValueError(f"explain_dot: the step-by-step view shows 1 to {MAX_K} products, got {k}")
    racc, oacc = accumulator_modes(acc, rounding, overflow, "explain_dot")
    if not (order in ("sequential", "pairwise") or (isinstance(order, numbers.Integral)
                                                      and not isinstance(order, bool) and order >= 1)):
        raise ValueError(f"explain_dot: order must be 'sequential', 'pairwise' or a block size >= 1, "
                         f"got {order!r}")
    qc = None
    if c is not None:
        qc = c.reshape(-1) if isinstance(c, QArray) else \
            wrap_codes(np.asarray(codec.encode(np.array([c], dtype=object), acc)).reshape(-1), acc)
        if qc.size != 1:
            raise ValueError(f"explain_dot: c must hold one value, got {qc.size}")
    A, B = qa.reshape(1, k), qb.reshape(k, 1)
    C = None if qc is None else qc.reshape(1, 1)
    products = [x * y for x, y in zip(qa.to_exact().tolist(), qb.to_exact().tolist())]
    order_text = order if isinstance(order, str) else f"blocks of {order}"
    head = [f"dot product of K={k}: a in {qa.fmt.name}, b in {qb.fmt.name}, products exact; "
            f"accumulator {acc.name} ({acc!r}), order {order_text}, rounding {racc.value}, "
            f"overflow {oacc.value}"]
    if qc is not None:
        head.append(f"c          {_code(qc)} (format {qc.fmt.name}), cast into {acc.name} first")
    steps = []

    def prod_line(i):
        return (f"  product   a[{i}] * b[{i}] = {_code(qa[i:i + 1])} * {_code(qb[i:i + 1])} = "
                f"{_show(products[i])} (exact)")

    if order == "pairwise":
        steps, result = _pairwise(qa, qb, qc, products, acc, racc, oacc)
    else:
        size = 1 if order == "sequential" else order
        s = None if qc is None else ops.cast(qc, acc, racc, oacc)
        if s is not None:
            steps.append(["c into the accumulator: " + _code(s)])
        for k0 in range(0, k, size):
            k1 = min(k0 + size, k)
            before = s
            s = linalg.matmul(A[:, :k1], B[:k1, :], C, acc=acc, order=order, rounding=racc,
                              overflow=oacc)
            exact_sum = sum(products[k0:k1], Fraction(0)) + (0 if before is None else _value(before))
            title = f"k={k0}" if k1 - k0 == 1 else f"block k={k0}..{k1 - 1}"
            lines = [title + (": s = round(s + p)" if before is not None else ": s = round(p)")]
            lines += [prod_line(i) for i in range(k0, k1)]
            if k1 - k0 > 1:
                lines.append(f"  block     the products summed exactly: "
                             f"{_show(sum(products[k0:k1], Fraction(0)))}")
            lines.append("  before    " + ("s = " + _code(before) if before is not None else
                                          "(no running sum yet)"))
            lines.append(f"  exact     {_show(exact_sum)}")
            lines.append(f"  after     s = {_code(s)}")
            lines += _rounding_lines(exact_sum, s, acc, racc, oacc)
            steps.append(lines)
        result = s
    check = linalg.matmul(A, B, C, acc=acc, order=order, rounding=racc, overflow=oacc)
    agree = int(check.bits.reshape(-1)[0]) == int(result.bits.reshape(-1)[0])
    exact_total = sum(products, Fraction(0)) + (0 if qc is None else _value(qc))
    tail = [f"result     {_code(result)}; fxsim.matmul gives {_code(check)}"
            + (" (the same code)" if agree else " (DIFFERENT: please report)"),
            f"exact      c + a . b = {_show(exact_total)}"
            + ("" if not isinstance(_value(result), Fraction)
               else f"; total error {_show(_value(result) - exact_total)}")]
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < len(steps):
            raise ValueError(f"explain_dot: step must be 0 .. {len(steps) - 1}, got {step!r}")
        chosen = [(step, steps[step])]
    else:
        chosen = list(enumerate(steps))
    body = [f"step {i:<4} {lines[0]}" + "".join("\n" + line for line in lines[1:]) for i, lines in chosen]
    return "\n".join(head + body + tail)


def _unit_step(unit, qa, qb, c, step):
    """One block step of a hardware matrix unit (:mod:`fxsim.linalg_units`):
    block ``step`` (default 0) of ``unit.n`` products, its c the chain's
    value after the blocks before it (``fxsim.matmul`` over them)."""
    k = qa.size
    if qb.size != k or not 1 <= k:
        raise ValueError(f"explain_dot: a has {k} elements, b {qb.size}: give two vectors of one length")
    if unit.promote is not None:
        raise ValueError(f"explain_dot: {unit} promotes partial sums every {unit.promote} products; "
                         "the block-step view covers units without promote (e.g. hopper_fp8)")
    blocks = -(-k // unit.n)
    j = 0 if step is None else step
    if isinstance(j, bool) or not isinstance(j, int) or not 0 <= j < blocks:
        raise ValueError(f"explain_dot: step must be a block 0 .. {blocks - 1}, got {step!r}")
    f32 = _formats.format("float32")
    qc = None
    if c is not None:
        qc = c.reshape(1, 1) if isinstance(c, QArray) else \
            wrap_codes(np.asarray(codec.encode(np.array([c], dtype=object), f32)).reshape(1, 1), f32)
    k0, k1 = j * unit.n, min((j + 1) * unit.n, k)
    A, B = qa.reshape(1, k), qb.reshape(k, 1)
    if j == 0:
        cin = None if qc is None else float(qc.to_float().reshape(-1)[0])
    else:
        before = linalg.matmul(A[:, :k0], B[:k0, :], qc, order=unit)
        cin = float(before.to_float().reshape(-1)[0])
    text = linalg_units.explain_block(unit, qa[k0:k1], qb[k0:k1], cin)
    after = linalg.matmul(A[:, :k1], B[:k1, :], qc, order=unit)
    head = (f"block {j} of {blocks} (k = {k0} .. {k1 - 1}); its c is "
            + ("the c given" if j == 0 else f"the chain's value after k < {k0}, {_code(before)}"))
    return (head + "\n" + text + f"\nfxsim.matmul over k < {k1}: {_code(after)} (float32; "
            "the chain's value after this block)")


def _pairwise(qa, qb, qc, products, acc, racc, oacc):
    """The adder tree of matmul's pairwise order, level by level with
    fxsim.ops (products held exactly in their product format)."""
    pfmt = product_format_or_none(qa.fmt, qb.fmt, acc.is_float)
    if pfmt is None:
        raise ValueError(f"explain_dot: the exact products of {qa.fmt.name} x {qb.fmt.name} need "
                         "more than a 64-bit float format; order='pairwise' holds them as values")
    level = [ops.multiply(qa[i:i + 1], qb[i:i + 1], out=pfmt) for i in range(qa.size)]
    steps, depth = [], 0
    while len(level) > 1:
        depth += 1
        nxt = []
        for j in range(0, len(level) - 1, 2):
            x, y = level[j], level[j + 1]
            s = ops.add(x, y, out=acc, rounding=racc, overflow=oacc)
            exact_sum = _value(x) + _value(y)
            lines = [f"tree level {depth}, pair {j // 2}: s = round(x + y)",
                     f"  x         {_code(x)} ({x.fmt.name})", f"  y         {_code(y)} ({y.fmt.name})",
                     f"  exact     {_show(exact_sum)}", f"  after     s = {_code(s)}"]
            if depth == 1:
                lines[1:1] = [f"  product   p[{j}] = {_show(products[j])}, "
                              f"p[{j + 1}] = {_show(products[j + 1])} (exact)"]
            lines += _rounding_lines(exact_sum, s, acc, racc, oacc)
            steps.append(lines)
            nxt.append(s)
        if len(level) % 2:
            nxt.append(level[-1])  # the odd one out moves up unrounded
        level = nxt
    root = level[0]
    s = ops.cast(root, acc, racc, oacc)
    if root.fmt != acc or len(products) == 1:
        steps.append([f"tree root into {acc.name}: s = round(root)", f"  exact     {_show(_value(root))}",
                      f"  after     s = {_code(s)}"] + _rounding_lines(_value(root), s, acc, racc, oacc))
    if qc is not None:
        start = ops.cast(qc, acc, racc, oacc)
        total = ops.add(start, s, out=acc, rounding=racc, overflow=oacc)
        exact_sum = _value(start) + _value(s)
        steps.append(["c + tree: s = round(c + root)", f"  before    c = {_code(start)}, root = {_code(s)}",
                      f"  exact     {_show(exact_sum)}", f"  after     s = {_code(total)}"]
                     + _rounding_lines(exact_sum, total, acc, racc, oacc))
        s = total
    return steps, s

