"""The ``training`` study (analysis/training.py): its tasks, a quick task end to end, the
Range-BN swap, the skip path, and the verdict rules on hand-made results."""
import pickle

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from fxsim.studies import STUDIES  # noqa: E402
from fxsim.studies import training as st  # noqa: E402
from fxsim.train import (SGD, BatchNorm, Linear, RangeBN, ReLU, Residual,  # noqa: E402
                         Sequential, SoftmaxCrossEntropy)
from fxsim.train.data import blobs  # noqa: E402
from fxsim.train.presets import PRESETS, Run  # noqa: E402


def test_registered_and_tasks_cover_variants_and_seeds():
    assert "training" in STUDIES
    quick, full = st.tasks(True), st.tasks(False)
    assert [t.kwargs["key"] for t in quick] == [v.key for v in st.VARIANTS]
    assert all(t.kwargs == {"key": t.kwargs["key"], "seed": 0, "quick": True} for t in quick)
    assert len(full) == 3 * len(st.VARIANTS)
    assert {(t.kwargs["key"], t.kwargs["seed"]) for t in full} == \
        {(v.key, s) for v in st.VARIANTS for s in (0, 1, 2)}
    pickle.dumps(full)
    for v in st.VARIANTS:
        assert v.preset in PRESETS
    keys = {v.key for v in st.VARIANTS}
    for c in st.CLAIMS:
        assert c.a in keys and c.b in keys and c.kind in ("no_loss", "better")
    for _, panel in st.PANELS:
        assert set(panel) <= keys


def test_quick_task_runs_and_is_deterministic():
    a = st.run_variant("graham-cnn, k=2", 0, True)
    b = st.run_variant("graham-cnn, k=2", 0, True)
    assert a == b
    assert a["status"] == "ok" and a["options"] == {"bits": 2}
    assert len(a["curve"]) == len(a["train_loss"]) == a["epochs"] >= 1
    assert 0.0 <= a["test_accuracy"] <= 1.0
    assert all(np.isfinite(a["train_loss"]))
    m = st.run_variant("mcdonnell-resnet, plain sign", 0, True)
    assert m["status"] == "ok" and m["after_training"] is True and m["options"] == {"sign": "plain"}


def test_missing_preset_is_skipped_with_a_note(monkeypatch):
    monkeypatch.setitem(PRESETS, "float-mlp", "no_such_module:float_mlp")
    r = st.run_variant("float-mlp", 0, True)
    assert r["status"] == "skipped"
    assert "float-mlp not available" in r["note"] and "no_such_module" in r["note"]


def test_swap_range_bn_rebinds_the_optimizer():
    model = Sequential(Linear(64, 8, rng=1), RangeBN(8), ReLU(),
                       Residual(Sequential(RangeBN(8, affine=False), Linear(8, 8, rng=2))),
                       Linear(8, 10, rng=3))
    opt = SGD(model, 0.1)
    run = Run("x", 0, model, SoftmaxCrossEntropy(), opt, blobs(0, n_train=32, n_test=8), 1, 16)
    assert st.swap_range_bn(run) == 2
    bn1, bn2 = model.items[1], model.items[3].body.items[0]
    assert isinstance(bn1, BatchNorm) and isinstance(bn2, BatchNorm)
    assert bn1.affine and not bn2.affine
    assert bn1.name == "model.1" and bn2.name == "model.3.body.0"
    assert [n for n, _, _ in opt.params] == [n for n, _, _ in model.named_parameters()]
    assert any(lay is bn1 for _, lay, _ in opt.params)
    x, y = run.data.x_train[:16], run.data.y_train[:16]
    loss = run.loss
    loss.forward(model.forward(x, training=True), y)
    model.backward(loss.backward())
    g = bn1.params["gamma"].copy()
    opt.step()
    assert np.array_equal(bn1.params["gamma"], g - 0.1 * bn1.grads["gamma"])
    assert st.swap_range_bn(run) == 0


def _ok(key, seed, acc, epochs=3):
    return {"key": key, "preset": st.variant(key).preset, "options": {}, "seed": seed,
            "quick": False, "status": "ok", "epochs": epochs, "test_accuracy": acc,
            "curve": [0.0, acc / 2, acc], "train_loss": [2.0, 1.0, 0.0], "after_training": False}


def test_verdict_rules():
    c_no = st.Claim("P", "t", "a", "b", "no_loss", 1.0)
    c_bt = st.Claim("P", "t", "a", "b", "better")

    def stats(accs):
        s = st.Stats("k")
        s.runs = [{"test_accuracy": a} for a in accs]
        return s

    d, text = st.verdict(c_no, stats([0.90, 0.91]), stats([0.91, 0.91]), False)
    assert d == pytest.approx(-0.5) and text.startswith("reproduces")
    d, text = st.verdict(c_no, stats([0.90, 0.90]), stats([0.92, 0.92]), False)
    assert d == pytest.approx(-2.0) and text.startswith("does not reproduce")
    # "better": the larger seed sd (ddof 1) of the two is the yardstick
    a, b = [0.95, 0.97], [0.90, 0.90]                  # sd(a) = 1.414 points, diff = 6
    assert st.verdict(c_bt, stats(a), stats(b), False)[1].startswith("reproduces")
    assert st.verdict(c_bt, stats([0.95, 0.97]), stats([0.955, 0.955]), False)[1].startswith(
        "not resolved")
    assert st.verdict(c_bt, stats(b), stats(a), False)[1].startswith("reversed")
    assert "not evidence" in st.verdict(c_bt, stats(a), stats(b), True)[1]
    missing = st.Stats("m")
    missing.others = [{"status": "skipped", "note": "preset m not available"}]
    d, text = st.verdict(c_bt, stats(a), missing, False)
    assert d is None and "not available" in text


def test_summarize_tables_figures_and_skips(tmp_path):
    results = []
    for v in st.VARIANTS:
        for s in (0, 1, 2):
            if v.preset.endswith("mlp"):
                results.append({"key": v.key, "preset": v.preset, "seed": s, "status": "skipped",
                                "note": f"preset {v.preset} not available"})
            else:
                results.append(_ok(v.key, s, 0.9 + 0.01 * s))
    sec = st.summarize(results, tmp_path, False)
    assert sec.figures == ["training_curves.png", "training_loss.png"]
    for f in sec.figures:
        assert (tmp_path / f).stat().st_size > 1000
    assert sec.numbers["mcdonnell_resnet_accuracy_mean"] == pytest.approx(0.91)
    assert "float_mlp_accuracy_mean" not in sec.numbers
    assert "not run: preset float-mlp not available" in sec.markdown
    assert "| graham-cnn, k=4 | 90.00 / 91.00 / 92.00 | 91.00 | 1.00 | 3 |" in sec.markdown
    assert sec.numbers["variants_measured"] == 6.0
    # equal means: "no loss" reproduces, "better" is not resolved
    assert sec.numbers["claim_graham_cnn_k_4_vs_float_cnn_points"] == pytest.approx(0.0)
    assert "not resolved" in sec.markdown


def test_errors_inside_a_builder_propagate(monkeypatch):
    from fxsim.train import presets_cnn

    def broken(seed, **kw):
        raise AttributeError("a bug inside the builder")

    monkeypatch.setattr(presets_cnn, "float_cnn", broken)
    with pytest.raises(AttributeError, match="a bug inside the builder"):
        st.run_variant("float-cnn", 0, True)
