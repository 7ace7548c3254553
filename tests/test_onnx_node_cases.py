"""ONNX's own node test cases for Cast, CastLike, QuantizeLinear and
DequantizeLinear as a test-only oracle (issue 17).

The installed onnx package does not ship its node test data
(``onnx/backend/test/data/node``) but ships the generators that write it:
``onnx/backend/test/case/node/{cast,castlike,quantizelinear,
dequantizelinear}.py``.  Each ``export*`` static method builds a node and
calls the module-level name ``expect(node, inputs=..., outputs=...,
name=...)``.  :func:`collect_cases` runs every one of them with that name
replaced (``unittest.mock.patch.object`` on the generator module, undone
afterwards) by a function that records the case: its name, operator,
attributes, inputs and expected outputs -- the data sets ONNX's backend
test writes, in the order the generators write them (deterministic: the
generators draw no random numbers).

Every tensor becomes ``(ONNX type, codes)``: the stored bytes viewed as
unsigned integers (the low 4/2 bits for the types ml_dtypes keeps one per
byte), read without fxsim.  fxsim computes each case with its public API
from the input codes (:func:`fxsim.from_bits`) as the ONNX operator text
(``onnx.defs.get_schema(op).doc``, opset 28 in onnx 1.23) and ONNX's
technical notes on 4-bit types state it, and the codes are compared bit
for bit:

Cast / CastLike (``fxsim.cast``, one rounding)
    to float16/bfloat16/float32/float64: nearest even, out of range to inf
    (``overflow="ieee"``); to a float8 type: nearest even, ``saturate=1``
    (the default) clamps to +-max incl. inf inputs (``"saturate"``),
    ``saturate=0`` follows the second table (``"ieee"``: inf where the type
    has it, else NaN); to FLOAT8E8M0: ``round_mode`` up / down / nearest
    ("to nearest value away from zero" / "towards zero" / "ties round up":
    ``away`` / ``toward_zero`` / ``nearest_away``, the same as up / down /
    nearest-up on E8M0's positive range; negative inputs are unspecified),
    ``saturate=1`` -> ``"saturate"`` (0 -> the least code 0x00, as the
    spec's table), ``saturate=0`` -> ``"nan"``; to FLOAT4E2M1 (and FLOAT6):
    nearest even, saturating, NaN -> 6 (``nan="max"``, the table of ONNX's
    "Float stored in 4 bits"); to an integer type: nearest even, then the
    high bits discarded (``overflow="wrap"``: "Cast to a 4 bit type is done
    by rounding to the nearest-integer (with ties to even) ... and
    truncating", ONNX's "4 bit integer types"; integer -> integer "discard
    higher bits and reinterpret").
QuantizeLinear
    ``y = saturate(round_half_even(x / y_scale) + y_zero_point)`` where
    "the type of ``y_scale`` determines the precision of the division"
    (or the ``precision`` attribute): ``q = fxsim.divide(x, y_scale,
    out=<that type>)`` -- the exact quotient rounded once, nearest even --
    then for integer outputs ``r = fxsim.cast(q, <integer wide enough for
    every float32>)`` (nearest even, exact otherwise) and
    ``fxsim.add(r, y_zero_point, out=<output type>, overflow="saturate")``
    (the exact integer sum, clamped); for float outputs (float8, float4)
    ``fxsim.add(q, y_zero_point, out=<output type>)``: the exact sum rounded
    once, nearest even, saturating as the ``saturate`` attribute says
    (always for float4; NaN -> 6 as Cast).  Output type: ``output_dtype``,
    else ``y_zero_point``'s, else uint8.  Per-tensor, per-axis (``axis``,
    default 1) and blocked (``block_size``) scales are broadcast here.
DequantizeLinear
    ``y = (x - x_zero_point) * x_scale``: the difference exact
    (``fxsim.subtract``; float inputs into float64, which holds the
    difference of two values of at most 16 bits exactly), the product
    rounded once into the output type (``output_dtype``, else ``x_scale``'s:
    "the output type also determines the precision of the
    multiplication"), nearest even, IEEE overflow.

Differences are judged against the spec text: where ONNX's data is right
fxsim is wrong -- that case is marked xfail naming the bug
(``FXSIM_BUGS``; none in onnx 1.23.2's data); where the data contradicts
the spec (``PEER_DEVIATIONS``: which elements, the spec's codes computed
with numpy, the source) fxsim's spec answer is asserted and the data's
value is reported with ``warnings.warn`` and ``record_property``, never
asserted.  In onnx 1.23.2 these are the generators' use of ml_dtypes'
``astype``: NaN -> FLOAT4E2M1 gives -0 (0x8) where ONNX's float4 note says
6 (0x7), and float -> INT4/UINT4/INT2/UINT2 out of range gives 0 where the
int4/int2 notes say "truncating" (the Cast operator text itself leaves
float -> integer out of range undefined).  Cases whose types fxsim cannot
express (strings, bools, complex numbers) are skipped with the type named
(none in onnx 1.23.2's four generators).  ``test_summary`` prints and
records the counts per operator: cases compared, equal, differing (only at
the deviations above), skipped.  NaN or infinite quotients into an integer
type (undefined by the spec; fxsim refuses them into fixed point) do not
occur in the data.
"""
from __future__ import annotations

import collections
import dataclasses
import importlib
import inspect
import warnings
from unittest import mock

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is a test-only oracle: pip install onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import fxsim  # noqa: E402

GENERATORS = ("cast", "castlike", "quantizelinear", "dequantizelinear")

#: ONNX's element types that are fxsim presets (``TensorProto`` names).
FORMATS = {
    "FLOAT": "float32", "FLOAT16": "float16", "DOUBLE": "float64", "BFLOAT16": "bfloat16",
    "FLOAT8E4M3FN": "float8_e4m3fn", "FLOAT8E4M3FNUZ": "float8_e4m3fnuz",
    "FLOAT8E5M2": "float8_e5m2", "FLOAT8E5M2FNUZ": "float8_e5m2fnuz",
    "FLOAT8E8M0": "float8_e8m0fnu", "FLOAT4E2M1": "float4_e2m1fn",
    "FLOAT6E2M3": "float6_e2m3fn", "FLOAT6E3M2": "float6_e3m2fn",
    "INT2": "int2", "UINT2": "uint2", "INT4": "int4", "UINT4": "uint4",
    "INT8": "int8", "UINT8": "uint8", "INT16": "int16", "UINT16": "uint16",
    "INT32": "int32", "UINT32": "uint32", "INT64": "int64", "UINT64": "uint64",
}
#: ONNX types fxsim has no format for, and why (a case using one is skipped).
UNSUPPORTED = {
    "STRING": "strings are not numbers in a format",
    "BOOL": "bool is not a number format",
    "COMPLEX64": "fxsim has no complex formats",
    "COMPLEX128": "fxsim has no complex formats",
}
#: bits of a code for the types ml_dtypes keeps one per byte (low bits).
NARROW_BITS = {"INT2": 2, "UINT2": 2, "INT4": 4, "UINT4": 4, "FLOAT4E2M1": 4,
               "FLOAT6E2M3": 6, "FLOAT6E3M2": 6}
FLOAT8 = ("FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ")
NO_NAN_FLOATS = ("FLOAT4E2M1", "FLOAT6E2M3", "FLOAT6E3M2")
#: Cast's ``round_mode`` (to FLOAT8E8M0): "up: round to nearest value away
#: from zero, down: ... towards zero, nearest: ... ties round up".
E8M0_ROUNDING = {"up": "away", "down": "toward_zero", "nearest": "nearest_away"}
#: an integer format holding every finite float32 (|x| < 2**128) exactly.
WIDE_INT = fxsim.FixedFormat(130, 0)

#: Known places where ONNX's data contradicts ONNX's spec text:
#: ``{case name: (rule, source)}``; ``rule(case)`` gives the elements
#: concerned (a mask) and the spec's codes there, computed with numpy from
#: the input's values (not with fxsim).  fxsim is asserted to give the
#: spec's codes; the data's values are reported, never asserted.
F4_NAN_SOURCE = ("ONNX's 'Float stored in 4 bits' (docs/docs/technical/float4.md), Cast "
                 "table: 'NaN | 6' (code 0x7); the generator writes ml_dtypes' astype")
SUBBYTE_SOURCE = ("ONNX's '{n} bit integer types' (docs/docs/technical/int{n}.md): 'Cast to a {n} "
                  "bit type is done by rounding to the nearest-integer (with ties to even) ... "
                  "and truncating' -- read as discarding the high bits (two's complement), as "
                  "the Cast operator text does for integer->integer; the operator text itself "
                  "leaves float->integer out of range undefined.  The generator writes "
                  "ml_dtypes' astype, which gives 0 out of range")
NUMPY_FLOATS = {"FLOAT": np.float32, "FLOAT16": np.float16, "DOUBLE": np.float64}


def input_values(t):
    """float64 values of a FLOAT/FLOAT16/DOUBLE tensor, by numpy."""
    return t.codes.view(NUMPY_FLOATS[t.type]).astype(np.float64)


def nan_to_max(case):
    """E2M1 has no NaN: NaN -> 6, code 0x7."""
    return np.isnan(input_values(case.inputs[0])), np.uint64(0x7)


def truncated(bits, signed):
    def rule(case):
        with np.errstate(invalid="ignore"):
            r = np.rint(input_values(case.inputs[0]))  # nearest, ties to even (exact)
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        outside = (r < lo) | (r > hi)
        return outside, (r.astype(np.int64) & ((1 << bits) - 1)).astype(np.uint64)
    return rule


PEER_DEVIATIONS = {}
for _op in ("cast", "castlike"):
    for _src in ("FLOAT", "FLOAT16"):
        PEER_DEVIATIONS[f"test_{_op}_{_src}_to_FLOAT4E2M1"] = (nan_to_max, F4_NAN_SOURCE)
        for _dst, _bits, _signed in (("INT4", 4, True), ("UINT4", 4, False),
                                     ("INT2", 2, True), ("UINT2", 2, False)):
            PEER_DEVIATIONS[f"test_{_op}_{_src}_to_{_dst}"] = (
                truncated(_bits, _signed), SUBBYTE_SOURCE.format(n=_bits))
#: cases where fxsim is wrong and ONNX's data right: ``{case name: reason}``.
FXSIM_BUGS: dict = {}


@dataclasses.dataclass
class Tensor:
    type: str            # ONNX element type name, e.g. "FLOAT8E4M3FN"
    codes: np.ndarray    # unsigned integer codes, the tensor's shape


@dataclasses.dataclass
class Case:
    name: str
    op: str
    attrs: dict
    inputs: list
    outputs: list


def to_tensor(t) -> Tensor:
    """``(type, codes)`` of a TensorProto or numpy array, by its bytes (no fxsim)."""
    if isinstance(t, TensorProto):
        kind = TensorProto.DataType.Name(t.data_type)
        if kind in UNSUPPORTED:
            return Tensor(kind, np.zeros(tuple(t.dims), np.uint8))
        arr = numpy_helper.to_array(t)
    else:
        arr = np.asarray(t)
        kind = "STRING" if arr.dtype.kind in "OSU" else \
            TensorProto.DataType.Name(helper.np_dtype_to_tensor_dtype(arr.dtype))
        if kind in UNSUPPORTED:
            return Tensor(kind, np.zeros(arr.shape, np.uint8))
    arr = np.ascontiguousarray(arr)
    codes = arr.view(f"uint{arr.dtype.itemsize * 8}").copy()
    if kind in NARROW_BITS:
        codes &= np.uint8((1 << NARROW_BITS[kind]) - 1)
    return Tensor(kind, codes)


def collect_cases() -> list:
    """Every case the four generators write, with ``expect`` intercepted."""
    cases = []

    def capture(node, inputs, outputs, name, **_kwargs):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
        cases.append(Case(name, node.op_type, attrs, [to_tensor(t) for t in inputs],
                          [to_tensor(t) for t in outputs]))

    state = np.random.get_state()  # onnx's Base metaclass seeds numpy's global generator
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # the generators' own overflows
            for short in GENERATORS:
                # importing runs every export once with onnx's own expect (its metaclass)
                module = importlib.import_module(f"onnx.backend.test.case.node.{short}")
                with mock.patch.object(module, "expect", capture):
                    for _, cls in inspect.getmembers(module, inspect.isclass):
                        if cls.__module__ != module.__name__:
                            continue
                        for method in sorted(m for m in vars(cls) if m.startswith("export")):
                            np.random.seed(0)  # as onnx's metaclass does before each export
                            getattr(cls, method)()
    finally:
        np.random.set_state(state)
    return cases


CASES = collect_cases()


def unsupported(case):
    """Why fxsim cannot compute ``case`` (None if it can)."""
    kinds = {t.type for t in case.inputs + case.outputs}
    if case.op == "Cast":
        kinds.add(TensorProto.DataType.Name(case.attrs["to"]))
    for attr in ("output_dtype", "precision"):
        if attr in case.attrs:
            kinds.add(TensorProto.DataType.Name(case.attrs[attr]))
    for kind in sorted(kinds):
        if kind not in FORMATS:
            return f"ONNX type {kind}: {UNSUPPORTED.get(kind, 'no fxsim format')}"
    return None


def fmt(kind):
    return fxsim.format(FORMATS[kind])


def q(t: Tensor):
    return fxsim.from_bits(t.codes, fmt(t.type))


# ---------------------------------------------------------------- the operators with fxsim
def cast_modes(dst, saturate, round_mode):
    """``(rounding, overflow, nan)`` of ONNX's Cast into type ``dst``."""
    if dst == "FLOAT8E8M0":
        return E8M0_ROUNDING[round_mode], "saturate" if saturate else "nan", None
    if dst in NO_NAN_FLOATS:
        return "nearest_even", "saturate", "max"
    if dst in FLOAT8:
        return "nearest_even", "saturate" if saturate else "ieee", None
    if fmt(dst).is_float:
        return "nearest_even", "ieee", None
    return "nearest_even", "wrap", None


def run_cast(case):
    dst = TensorProto.DataType.Name(case.attrs["to"]) if case.op == "Cast" else case.inputs[1].type
    rounding, overflow, nan = cast_modes(dst, case.attrs.get("saturate", 1),
                                         case.attrs.get("round_mode", "up"))
    return fxsim.cast(q(case.inputs[0]), fmt(dst), rounding, overflow, nan=nan).bits


def broadcast(param: Tensor, shape, axis, block_size) -> Tensor:
    """A scale/zero point codes broadcast to ``shape``: per tensor (a scalar
    or one element), per axis (1-D along ``axis``), or blocked (``block_size``
    along ``axis``, the last block cut to the input's length)."""
    codes = param.codes
    if codes.size == 1 and codes.ndim <= 1:
        return Tensor(param.type, codes.reshape(()))
    axis %= len(shape)
    if block_size:
        codes = np.repeat(codes, block_size, axis=axis)
        codes = np.take(codes, np.arange(shape[axis]), axis=axis)
        assert codes.shape == tuple(shape), (codes.shape, shape)
        return Tensor(param.type, codes)
    assert codes.ndim == 1 and codes.shape[0] == shape[axis], (codes.shape, shape, axis)
    full = [1] * len(shape)
    full[axis] = codes.shape[0]
    return Tensor(param.type, codes.reshape(full))


def run_quantize(case):
    x, scale = case.inputs[0], case.inputs[1]
    zp = case.inputs[2] if len(case.inputs) > 2 else None
    axis, block = case.attrs.get("axis", 1), case.attrs.get("block_size", 0)
    out = (TensorProto.DataType.Name(case.attrs["output_dtype"]) if "output_dtype" in case.attrs
           else zp.type if zp is not None else "UINT8")
    precision = (TensorProto.DataType.Name(case.attrs["precision"]) if "precision" in case.attrs
                 else scale.type)
    shape = x.codes.shape
    s = q(broadcast(scale, shape, axis, block))
    z = q(broadcast(zp, shape, axis, block)) if zp is not None else fxsim.asarray(0, fmt(out))
    quotient = fxsim.divide(q(x), s, out=fmt(precision), rounding="nearest_even",
                            overflow="ieee")
    if not fmt(out).is_float:
        r = fxsim.cast(quotient, WIDE_INT, "nearest_even")  # round half even; exact otherwise
        return fxsim.add(r, z, out=fmt(out), overflow="saturate").bits
    rounding, overflow, nan = cast_modes(out, case.attrs.get("saturate", 1), "up")
    return fxsim.add(quotient, z, out=fmt(out), rounding=rounding, overflow=overflow,
                     nan=nan).bits


def run_dequantize(case):
    x, scale = case.inputs[0], case.inputs[1]
    zp = case.inputs[2] if len(case.inputs) > 2 else None
    axis, block = case.attrs.get("axis", 1), case.attrs.get("block_size", 0)
    out = (TensorProto.DataType.Name(case.attrs["output_dtype"]) if "output_dtype" in case.attrs
           else scale.type)
    shape = x.codes.shape
    d = q(x)
    if zp is not None:
        z = q(broadcast(zp, shape, axis, block))
        d = fxsim.subtract(d, z, out=fxsim.formats.float64) if d.fmt.is_float \
            else fxsim.subtract(d, z)  # exact: float64 holds it / fixed point grows
    s = q(broadcast(scale, shape, axis, block))
    return fxsim.multiply(d, s, out=fmt(out), rounding="nearest_even", overflow="ieee").bits


RUN = {"Cast": run_cast, "CastLike": run_cast, "QuantizeLinear": run_quantize,
       "DequantizeLinear": run_dequantize}


# ---------------------------------------------------------------- judging
@dataclasses.dataclass
class Result:
    case: Case
    skipped: str | None = None
    ours: np.ndarray | None = None
    expected: np.ndarray | None = None    # the data's codes, with the spec's where it deviates
    data: np.ndarray | None = None        # the data's codes as written
    deviations: list = dataclasses.field(default_factory=list)  # (index, ours, data, spec, source)


def judge(case) -> Result:
    why = unsupported(case)
    if why is not None:
        return Result(case, skipped=why)
    ours = np.asarray(RUN[case.op](case)).astype(np.uint64)
    data = case.outputs[0].codes.astype(np.uint64)
    expected = data.copy()
    result = Result(case, ours=ours, expected=expected, data=data)
    if case.name in PEER_DEVIATIONS:
        rule, source = PEER_DEVIATIONS[case.name]
        where, spec = rule(case)
        expected[where] = np.broadcast_to(spec, expected.shape)[where]
        for i in zip(*np.nonzero(where & (data != expected))):
            result.deviations.append((i, int(ours[i]), int(data[i]), int(expected[i]), source))
    return result


@pytest.fixture(scope="module")
def results():
    return {case.name: judge(case) for case in CASES}


def _param(case):
    marks = [pytest.mark.xfail(reason=FXSIM_BUGS[case.name], strict=True)] \
        if case.name in FXSIM_BUGS else []
    return pytest.param(case.name, id=case.name, marks=marks)


def _show(codes):
    return [hex(int(c)) for c in np.asarray(codes).reshape(-1)]


@pytest.mark.parametrize("name", [_param(c) for c in CASES])
def test_case(name, results, record_property):
    """fxsim's codes == ONNX's data's, bit for bit; at the listed spec
    deviations of the data, == the spec's codes (the data's reported)."""
    result = results[name]
    if result.skipped:
        pytest.skip(result.skipped)
    ours, expected = result.ours, result.expected
    assert ours.shape == expected.shape, (ours.shape, expected.shape)
    bad = np.flatnonzero((ours != expected).reshape(-1))
    inputs = [_show(t.codes.reshape(-1)[bad]) for t in result.case.inputs
              if t.codes.shape == ours.shape]
    assert bad.size == 0, (
        f"{name}: fxsim differs from ONNX's data at flat indices {bad.tolist()}: fxsim "
        f"{_show(ours.reshape(-1)[bad])}, ONNX {_show(expected.reshape(-1)[bad])} "
        f"(input codes there: {inputs})")
    if result.deviations:
        where = [list(map(int, index)) for index, *_ in result.deviations]
        data = [hex(d) for _, _, d, _, _ in result.deviations]
        spec = [hex(s) for _, _, _, s, _ in result.deviations]
        message = (f"{name}: ONNX's data differs from the spec at {where}: data {data}, "
                   f"spec and fxsim {spec} -- {result.deviations[0][4]}")
        record_property("peer deviation", message)
        warnings.warn(message)


def test_unsupported_types_are_skipped_by_name():
    """The skip path (no case of onnx 1.23's four generators takes it)."""
    text = Tensor("STRING", np.zeros(2, np.uint8))
    floats = Tensor("FLOAT", np.zeros(2, np.uint32))
    assert "STRING" in unsupported(Case("s", "Cast", {"to": TensorProto.FLOAT}, [text], [floats]))
    why = unsupported(Case("b", "Cast", {"to": TensorProto.BOOL}, [floats], [floats]))
    assert why == "ONNX type BOOL: bool is not a number format"
    assert unsupported(Case("f", "Cast", {"to": TensorProto.FLOAT16}, [floats], [floats])) is None
    assert to_tensor(np.array(["1.5"])).type == "STRING"


def test_summary(results, record_property, capsys):
    """Counts per operator; every operator compared, nothing dropped."""
    counts = collections.defaultdict(collections.Counter)
    for result in results.values():
        c = counts[result.case.op]
        if result.skipped:
            c["skipped"] += 1
            c[f"skipped: {result.skipped}"] += 1
            continue
        c["compared"] += 1
        c["elements"] += result.ours.size
        differing = int((result.ours != result.data).sum())
        if differing:
            c["differing"] += 1
            c["differing elements"] += differing
            # every difference is a listed spec deviation of the data (test_case checks fxsim)
            assert differing == len(result.deviations), result.case.name
        else:
            c["equal"] += 1
    lines = []
    for op in RUN:
        c = counts[op]
        lines.append(f"{op}: {c['compared']} compared ({c['elements']} elements), "
                     f"{c['equal']} equal, {c['differing']} differing ({c['differing elements']} "
                     f"elements, all at spec deviations of ONNX's data), {c['skipped']} skipped")
        lines += [f"  {k}: {v}" for k, v in sorted(c.items()) if k.startswith("skipped: ")]
        record_property(f"onnx {onnx.__version__} {op}", dict(c))
        assert c["compared"] > 0, f"no {op} case was compared"
    with capsys.disabled():
        print(f"\nONNX {onnx.__version__} node test cases, fxsim: " + "; ".join(lines))
    assert sum(sum(counts[op][k] for k in ("compared", "skipped")) for op in counts) == len(CASES)
    assert len(results) == len(CASES) == len({c.name for c in CASES})
