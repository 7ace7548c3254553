"""``fxsim train`` on the tiny (--quick) setting: result.json with the
documented keys and the same weights as training the preset directly, a
line per epoch with a bar on stderr, the learning-curve PNG (or one line
when matplotlib is missing), --golden, after_training, --help and the
one-line errors (exit 2)."""
import io
import json
import os
import sys

import pytest

from fxsim.cli import main
from fxsim.train import command, presets


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_quick_run_writes_result_json_and_curve(capsys, tmp_path):
    out = str(tmp_path / "r")
    code, _, err = run(capsys, "train", "bnn-mlp", "--quick", "--seed", "3", "--out", out)
    assert code == 0, err
    r = json.load(open(os.path.join(out, "result.json")))
    assert r["preset"] == "bnn-mlp" and r["seed"] == 3 and r["epochs"] == 2 and r["quick"]
    assert 0.0 <= r["test_accuracy"] <= 1.0 and r["test_accuracy"] == r["test_accuracy_per_epoch"][-1]
    assert len(r["train_loss"]) == len(r["test_accuracy_per_epoch"]) == 2
    assert len(r["weights_sha256"]) == 64 and r["steps"] == 4 and r["seconds"] >= 0
    assert r["config"]["gemms"] and r["description"] and r["fxsim_version"]
    assert r["data"] == {"name": "blobs(seed=3)", "train": 64, "test": 32}
    lines = [ln for ln in err.splitlines() if "epoch" in ln and "loss" in ln]
    assert len(lines) == 2 and lines[1].startswith("[####################] epoch 2/2")
    # the same preset and seed trained from Python: the same bits
    direct = command.train_preset("bnn-mlp", 3, quick=True, progress=False)
    assert direct["weights_sha256"] == r["weights_sha256"]
    assert direct["train_loss"] == r["train_loss"]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in err
    else:
        with open(os.path.join(out, "learning_curve.png"), "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_one_line_and_result_json(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    out = str(tmp_path / "r")
    code, _, err = run(capsys, "train", "float-mlp", "--quick", "--epochs", "1", "--out", out)
    assert code == 0
    assert os.path.exists(os.path.join(out, "result.json"))
    assert not os.path.exists(os.path.join(out, "learning_curve.png"))
    assert [ln for ln in err.splitlines() if "matplotlib" in ln] == [
        f"fxsim train: wrote {out}/result.json; no learning_curve.png: matplotlib is not "
        "installed (pip install 'fxsim[analysis]')"]


def test_golden_option_writes_vectors(capsys, tmp_path):
    out = str(tmp_path / "gv")
    code, _, err = run(capsys, "train", "banner8-mlp", "--quick", "--golden", out)
    assert code == 0, err
    assert os.path.exists(os.path.join(out, "golden.npz"))
    m = json.load(open(os.path.join(out, "manifest.json")))
    assert m["extra"]["preset"] == "banner8-mlp" and "model.0.slot.weight.codes" in m["arrays"]
    assert "golden vectors of step 0" in err


def test_after_training_runs_before_the_final_evaluation(monkeypatch):
    calls = []
    real = presets.build

    def build(name, seed=0, *, epochs=None, quick=False):
        r = real(name, seed, epochs=epochs, quick=quick)

        def after(model, data):
            calls.append((model is r.model, data is r.data))
            model.items[-1].params["bias"][:] = 0.0
            model.items[-1].params["bias"][0] = 1e6  # every test sample now says class 0
        r.after_training = after
        return r
    monkeypatch.setattr(presets, "build", build)
    r = command.train_preset("float-mlp", 0, quick=True, epochs=1, stream=io.StringIO())
    assert calls == [(True, True)]
    zeros = sum(1 for y in real("float-mlp", 0, quick=True).data.y_test if y == 0)
    assert r["test_accuracy"] == zeros / 32
    assert "test_accuracy_before_after_training" in r


def test_help_lists_presets_and_examples(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for name in presets.PRESETS:
        assert f"\n  {name} " in text
    assert "Examples:" in text and "--golden" in text and "--quick" in text
    assert command.preset_summaries().keys() == presets.PRESETS.keys()


def test_unknown_preset_exit_2_with_the_list(capsys, tmp_path):
    code, _, err = run(capsys, "train", "resnet50", "--out", str(tmp_path / "x"))
    assert code == 2 and not (tmp_path / "x").exists()
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("fxsim train: unknown preset 'resnet50'")
    for name in presets.PRESETS:
        assert name in err


@pytest.mark.parametrize("argv, text", [
    (["--epochs", "-1"], "must be at least 0"),
    (["--seed", "x"], "expected a whole number"),
])
def test_bad_numbers_exit_2(capsys, argv, text):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "float-mlp", *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert text in err and len(err.strip().splitlines()) == 1


def test_out_is_a_file_exit_2(capsys, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    code, _, err = run(capsys, "train", "float-mlp", "--quick", "--out", str(f))
    assert code == 2 and "it is a file" in err


def test_missing_scikit_learn_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    code, _, err = run(capsys, "train", "float-mlp", "--out", str(tmp_path / "r"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "'sklearn'" in err and "pip install 'fxsim[train]'" in err
