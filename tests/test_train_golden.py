"""Golden vectors of one training step (fxsim.train.golden): the files,
read back through fxsim.io, equal the arrays of an independent replay of
the same step (the Sequential's layers driven one by one here); the GEMM
outputs agree with reference/linalg (pure Python) on small slices and with
integer numpy for the binary ones; a later step continues the run exactly
as fit does."""
import copy
import io
import os

import numpy as np
import pytest

import fxsim
import reference.linalg as ref
from oracle import ref_format
from fxsim import io as fxio
from fxsim.train import fit, presets, weights_sha256
from fxsim.train.data import batches
from fxsim.train.golden import write_step_vectors
from fxsim.train.quant import Affine


def _replay(name, seed):
    """Step 0 of preset ``name`` by hand: every layer's input/output, the
    gradients passed through it, parameters before and after."""
    run = presets.build(name, seed, quick=True)
    model = run.model
    model.set_seed(seed)
    model.set_step(0)
    xb, yb = next(iter(batches(run.data.x_train, run.data.y_train, run.batch_size, seed=seed,
                               epoch=0)))
    run.optimizer.lr = float(run.schedule(0.0))
    before = {n: lay.params[k].copy() for n, lay, k in model.named_parameters()}
    rec, x = {}, xb
    for lay in model.items:
        y = lay.forward(x, training=True)
        rec[lay.name] = {"x": x, "y": y}
        x = y
    run.loss.forward(x, yb)
    dy = dlogits = run.loss.backward()
    for lay in reversed(model.items):
        dx = lay.backward(dy)
        rec[lay.name].update(dy=dy, dx=dx, cache=copy.copy(getattr(lay, "cache", None)),
                             grads=dict(lay.grads))
        dy = dx
    run.optimizer.step()
    return run, xb, yb, dlogits, rec, before


def _values(q):
    return q.to_float()


@pytest.mark.parametrize("name", ["float-mlp", "bnn-mlp", "shift-bnn-mlp", "banner8-mlp"])
def test_files_equal_an_independent_replay(name, tmp_path):
    out = str(tmp_path / "gv")
    manifest = write_step_vectors(presets.build(name, 2, quick=True), out, step=0)
    arrays, m = fxio.read_npz(os.path.join(out, "golden.npz"))
    assert m == manifest and m["extra"]["preset"] == name and m["extra"]["step"] == 0
    assert set(m["arrays"]) == set(arrays)
    run, xb, yb, dlogits, rec, before = _replay(name, 2)
    np.testing.assert_array_equal(_values(arrays["batch.x"]), xb)
    np.testing.assert_array_equal(_values(arrays["batch.y"]), yb)
    np.testing.assert_array_equal(_values(arrays["loss.dlogits"]), dlogits)
    assert [lay["name"] for lay in m["extra"]["layers"]] == [lay.name for lay in run.model.items]
    for lay in run.model.items:
        r, n = rec[lay.name], lay.name
        for key, want in (("forward.x", r["x"]), ("forward.y", r["y"]),
                          ("backward.dy", r["dy"]), ("backward.dx", r["dx"])):
            np.testing.assert_array_equal(_values(arrays[f"{n}.{key}"]), want, err_msg=f"{n}.{key}")
        for key in lay.params:
            np.testing.assert_array_equal(_values(arrays[f"{n}.grad.{key}"]), r["grads"][key])
            np.testing.assert_array_equal(_values(arrays[f"{n}.param.{key}.before"]),
                                          before[f"{n}.{key}"])
            np.testing.assert_array_equal(_values(arrays[f"{n}.param.{key}.after"]),
                                          lay.params[key])
        for key, v in lay.buffers.items():
            np.testing.assert_array_equal(_values(arrays[f"{n}.buffer.{key}"]), v)
        if "weight" in lay.params:  # GEMM layer: the slot copies, in the slots' formats
            c = r["cache"]
            for slot, cached in (("input", c["xq"]), ("weight", c["wq"])):
                if isinstance(cached, Affine):
                    codes = arrays[f"{n}.slot.{slot}.codes"]
                    assert codes.fmt.name == f"u{getattr(lay.slots, slot).bits}.0"
                    np.testing.assert_array_equal(codes.to_float(), cached.codes.to_float())
                    assert _values(arrays[f"{n}.slot.{slot}.delta"])[0] == cached.delta
                    assert _values(arrays[f"{n}.slot.{slot}.min"])[0] == cached.min
                else:
                    got = arrays[f"{n}.slot.{slot}"]
                    np.testing.assert_array_equal(got.to_float(), cached.to_float())
            # without bias and with a straight-through input: the GEMM outputs are y and dx
            if "bias" not in lay.params:
                np.testing.assert_array_equal(_values(arrays[f"{n}.gemm.forward"]), r["y"])
            if lay.slots.input is None or type(lay.slots.input).__name__ != "SignQuantizer":
                np.testing.assert_array_equal(_values(arrays[f"{n}.gemm.dx"]), r["dx"])
    # the memh files hold the same codes, row-major
    for key in ("model.0.slot.weight", "model.0.backward.dx"):
        if key in arrays:
            q = arrays[key]
            back = fxio.read_memh(os.path.join(out, f"{key}.memh"), q.fmt, q.shape)
            np.testing.assert_array_equal(back.bits, q.bits)


def _F(name):
    return ref_format(fxsim.formats.format(name))


def _ref_values(rows, fmt_name):
    fmt = fxsim.formats.format(fmt_name)
    codes = np.array(rows, dtype=np.uint64 if fmt.width > 32 else np.uint32)
    return fxsim.from_bits(codes, fmt).to_float()


def test_gemm_outputs_against_reference_linalg(tmp_path):
    """float-mlp: bfloat16 x bfloat16 into float32, sequential; banner8:
    u8 codes x u8 codes into s32.0; bnn: +-1 x +-1 exact -- small slices by
    the pure-Python oracle (and integer numpy)."""
    out = str(tmp_path / "f")
    write_step_vectors(presets.build("float-mlp", 0, quick=True), out)
    a, _ = fxio.read_npz(os.path.join(out, "golden.npz"))
    x, w, y = a["model.3.slot.input"], a["model.3.slot.weight"], a["model.3.gemm.forward"]
    bf, f32 = _F("bfloat16"), _F("float32")
    got = ref.matmul(x.bits[:3].tolist(), bf, w.bits[:, :4].tolist(), bf, acc=f32,
                     order="sequential")
    np.testing.assert_array_equal(_ref_values(got, "float32"), _values(y)[:3, :4])
    dy, dx = a["model.3.slot.grad_dx"], a["model.3.gemm.dx"]
    got = ref.matmul(dy.bits[:2].tolist(), bf, w.bits.T[:, :3].tolist(), bf, acc=f32,
                     order="sequential")
    np.testing.assert_array_equal(_ref_values(got, "float32"), _values(dx)[:2, :3])

    out = str(tmp_path / "b")
    write_step_vectors(presets.build("banner8-mlp", 0, quick=True), out)
    a, _ = fxio.read_npz(os.path.join(out, "golden.npz"))
    xc, wc = a["model.3.slot.input.codes"], a["model.3.slot.weight.codes"]
    got = ref.matmul(xc.bits[:2].tolist(), _F("u8.0"), wc.bits[:, :3].tolist(), _F("u8.0"),
                     acc=_F("s32.0"), order="sequential")
    ints = np.array(got, dtype=np.int64)
    ints = np.where(ints >= 2 ** 31, ints - 2 ** 32, ints)
    np.testing.assert_array_equal(ints, xc.bits[:2].astype(np.int64) @ wc.bits[:, :3].astype(np.int64))
    # the layer's forward GEMM is gemmlowp's decomposition of those integer products
    dx_, mx_ = _values(a["model.3.slot.input.delta"])[0], _values(a["model.3.slot.input.min"])[0]
    dw_, mw_ = _values(a["model.3.slot.weight.delta"])[0], _values(a["model.3.slot.weight.min"])[0]
    k = xc.shape[1]
    want = (dx_ * dw_) * ints.astype(np.float64)
    want = want + (dx_ * mw_) * xc.bits[:2].astype(np.float64).sum(axis=1, keepdims=True)
    want = want + (mx_ * dw_) * wc.bits[:, :3].astype(np.float64).sum(axis=0, keepdims=True)
    want = want + (mx_ * mw_) * float(k)
    np.testing.assert_array_equal(want, _values(a["model.3.gemm.forward"])[:2, :3])

    out = str(tmp_path / "n")
    write_step_vectors(presets.build("bnn-mlp", 0, quick=True), out)
    a, _ = fxio.read_npz(os.path.join(out, "golden.npz"))
    s, wb = a["model.2.slot.input"], a["model.2.slot.weight"]
    assert s.fmt.name == wb.fmt.name == "s2.0"
    np.testing.assert_array_equal(_values(a["model.2.gemm.forward"]),
                                  s.to_float().astype(np.int64) @ wb.to_float().astype(np.int64))


def test_a_later_step_continues_the_run_as_fit_does(tmp_path):
    run = presets.build("shift-bnn-mlp", 4, quick=True)
    m = write_step_vectors(run, str(tmp_path), step=1)  # trains steps 0 and 1 in place
    assert m["extra"]["step"] == 1 and m["extra"]["batch"] == 1 and m["extra"]["optimizer"]["t"] == 2
    ref_run = presets.build("shift-bnn-mlp", 4, quick=True)
    hist = fit(ref_run.model, ref_run.loss, ref_run.optimizer, ref_run.data, 1, 4,
               batch_size=ref_run.batch_size, schedule=ref_run.schedule, stream=io.StringIO())
    assert hist["steps"] == 2 and weights_sha256(run.model) == hist["weights_sha256"]
    arrays, _ = fxio.read_npz(str(tmp_path / "golden.npz"))
    np.testing.assert_array_equal(_values(arrays["model.0.param.weight.after"]),
                                  ref_run.model.items[0].params["weight"])


def test_bad_step_is_refused(tmp_path):
    with pytest.raises(ValueError, match="step must be an integer >= 0"):
        write_step_vectors(presets.build("float-mlp", 0, quick=True), str(tmp_path), step=-1)
