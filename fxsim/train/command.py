"""``fxsim train PRESET``: train one preset, write ``result.json`` and a
learning curve (or, with ``--golden``, the golden vectors of one step).

:func:`add_arguments` fills the ``train`` subparser of :mod:`fxsim.cli`;
:func:`run` is its handler; :func:`train_preset` is the work, callable
from Python (the ``training`` study uses it): it builds the preset, runs
:func:`fxsim.train.loop.fit` (a line per epoch on ``stream``), calls the
run's ``after_training`` (e.g. BN recomputation) and evaluates once more,
and returns the JSON-able result.

``result.json`` holds ``preset``, ``seed``, ``epochs``, ``quick``,
``test_accuracy`` (the final one, a fraction in [0, 1], after
``after_training``), ``test_accuracy_per_epoch`` and ``train_loss`` (lists,
one per epoch), ``lr_per_epoch``, ``steps``, ``batch_size``,
``weights_sha256`` (:func:`fxsim.train.loop.weights_sha256` of the final
parameters), ``seconds`` (wall time of training and evaluation),
``description``, ``config`` (the preset's settings), ``data``,
``fxsim_version`` and, when the preset has ``after_training``,
``test_accuracy_before_after_training``.

The preset list for ``--help`` is read from the sources (:data:`PRESETS`
and the first docstring line of each builder) without importing the
training modules, so that ``fxsim`` starts as fast as before.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
import time

__all__ = ["add_arguments", "run", "train_preset", "preset_summaries"]

_HERE = os.path.dirname(os.path.abspath(__file__))


def _presets_table():
    """:data:`fxsim.train.presets.PRESETS`, read from presets.py's source."""
    with open(os.path.join(_HERE, "presets.py"), encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    for node in tree.body:
        targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == "PRESETS" for t in targets) and node.value:
            return ast.literal_eval(node.value)
    raise ValueError("fxsim.train.presets defines no PRESETS table")


def preset_summaries() -> dict:
    """``{preset name: first line of its builder's docstring}`` in the
    order of ``PRESETS``, from the sources (no import); a builder that is
    missing says so."""
    out, trees = {}, {}
    for name, target in _presets_table().items():
        module, function = target.split(":")
        if module not in trees:
            try:
                with open(os.path.join(_HERE, f"{module}.py"), encoding="utf-8") as fh:
                    trees[module] = ast.parse(fh.read())
            except (OSError, SyntaxError):
                trees[module] = None
        doc = None
        if trees[module] is not None:
            for node in trees[module].body:
                if isinstance(node, ast.FunctionDef) and node.name == function:
                    doc = ast.get_docstring(node) or ""
        out[name] = (_one_line(doc) if doc
                     else "(no description)" if doc is not None else "(not available)")
    return out


def _one_line(doc, width=96):
    """The first sentence of a docstring's first paragraph, at most
    ``width`` characters (cut at a word, with an ellipsis)."""
    text = " ".join(doc.split("\n\n")[0].split())
    text = re.sub(r":[a-z]+:`~?(?:[\w.]*\.)?([^`]+)`", r"\1", text).replace("``", "")
    end = text.find(". ")
    text = text if end < 0 else text[:end + 1]
    if len(text) > width:
        text = text[:width - 3].rsplit(" ", 1)[0] + "..."
    return text


def _epilog():
    lines = ["Presets:"]
    summaries = preset_summaries()
    width = max(len(n) for n in summaries)
    for name, text in summaries.items():
        lines.append(f"  {name:{width}}  {text}")
    lines += ["",
              "Examples:",
              "  fxsim train float-mlp                 # digits; writes train-out/result.json",
              "  fxsim train bnn-mlp --seed 1 --epochs 10 --out runs/bnn1",
              "  fxsim train banner8-mlp --quick       # seconds: tiny data and width",
              "  fxsim train bnn-mlp --golden gv       # golden vectors of step 0, no training",
              "",
              "result.json: preset, seed, epochs, test_accuracy (final, a fraction), "
              "test_accuracy_per_epoch,",
              "train_loss (per epoch), weights_sha256, seconds, description, config, "
              "fxsim_version.",
              "Same seed, same bits: weights_sha256 does not depend on the thread count. "
              "The digits",
              "presets need scikit-learn: pip install 'fxsim[train]'; the PNG needs matplotlib."]
    return "\n".join(lines)


def add_arguments(p) -> None:
    """The arguments of ``fxsim train`` on the subparser ``p``."""
    from ..cli import whole_number  # the CLI's own argparse type (fxsim.cli is loaded by now)
    p.description = ("Train a preset network with the papers' arithmetic, bit-exactly and "
                     "reproducibly: every GEMM through fxsim with stated operand formats, "
                     "accumulator and order. Prints a line per epoch on stderr; writes "
                     "result.json and learning_curve.png into --out.")
    p.epilog = _epilog()
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("preset", metavar="PRESET", help="a preset name (listed below)")
    p.add_argument("--epochs", type=whole_number(0), default=None,
                   help="epochs to train (default: the preset's)")
    p.add_argument("--seed", type=whole_number(0), default=0,
                   help="seed of initialization, shuffling and stochastic rounding (default 0)")
    p.add_argument("--out", default="train-out", metavar="DIR",
                   help="output directory, created (default train-out)")
    p.add_argument("--quick", action="store_true",
                   help="tiny synthetic data, width and epochs (seconds; every layer still runs)")
    p.add_argument("--golden", default=None, metavar="DIR",
                   help="instead of training, write the golden vectors of one training step "
                        "(every layer's forward values, gradients, the weight update; "
                        ".memh per array, golden.npz + manifest.json) into DIR")
    p.add_argument("--step", type=whole_number(0), default=0,
                   help="with --golden: the step to write (earlier steps run first; default 0)")


class _Progress:
    """A stream for :func:`fit`'s epoch lines: each is shown with a bar and
    the elapsed seconds."""

    def __init__(self, stream, epochs, start):
        self.stream, self.epochs, self.start = stream, max(int(epochs), 1), start
        self.done = 0

    def write(self, text):
        for line in text.splitlines():
            if not line.strip():
                continue
            self.done += 1
            filled = round(20 * min(self.done, self.epochs) / self.epochs)
            bar = "#" * filled + "." * (20 - filled)
            self.stream.write(f"[{bar}] {line}  {time.perf_counter() - self.start:.1f} s\n")

    def flush(self):
        self.stream.flush()


def _check_name(name):
    table = _presets_table()
    if name not in table:
        raise ValueError(f"unknown preset {name!r}; the presets are: {', '.join(table)} "
                         "(`fxsim train --help` describes each)")


def train_preset(name, seed=0, *, epochs=None, quick=False, stream=None, progress=True) -> dict:
    """Build and train preset ``name`` (see the module doc); returns the
    result dict (``"run"`` is not in it: call :func:`fxsim.train.presets.build`
    for the model)."""
    from .. import __version__
    from .loop import evaluate, fit, weights_sha256
    from .presets import build

    _check_name(name)
    stream = sys.stderr if stream is None else stream
    run_ = build(name, seed, epochs=epochs, quick=quick)
    start = time.perf_counter()
    if progress:
        what = f"seed {seed}, {run_.epochs} epochs" + (", quick" if quick else "")
        print(f"fxsim train {name} ({what}): {run_.description}", file=stream, flush=True)
    hist = fit(run_.model, run_.loss, run_.optimizer, run_.data, run_.epochs, seed,
               progress=progress, batch_size=run_.batch_size, schedule=run_.schedule,
               stream=_Progress(stream, run_.epochs, start))
    result = {"preset": name, "seed": int(seed), "epochs": int(run_.epochs), "quick": bool(quick)}
    final = hist["test_accuracy"][-1] if hist["test_accuracy"] else None
    if run_.after_training is not None:
        result["test_accuracy_before_after_training"] = final
        run_.after_training(run_.model, run_.data)
        final = None
    if final is None:
        final = evaluate(run_.model, run_.data.x_test, run_.data.y_test)["accuracy"]
    result.update({
        "test_accuracy": float(final),
        "test_accuracy_per_epoch": [float(a) for a in hist["test_accuracy"]],
        "train_loss": [float(v) for v in hist["train_loss"]],
        "lr_per_epoch": [float(v) for v in hist["lr"]],
        "steps": int(hist["steps"]),
        "batch_size": int(run_.batch_size),
        "weights_sha256": weights_sha256(run_.model),
        "seconds": round(time.perf_counter() - start, 3),
        "description": run_.description,
        "config": run_.config,
        "data": {"name": run_.data.name, "train": int(len(run_.data.x_train)),
                 "test": int(len(run_.data.x_test))},
        "fxsim_version": __version__,
    })
    if progress:
        print(f"fxsim train {name}: test accuracy {result['test_accuracy']:.4f} after "
              f"{result['epochs']} epochs, {result['seconds']:.1f} s", file=stream, flush=True)
    return result


def run(args, out_dir=None) -> int:
    """The handler of ``fxsim train``.  ``out_dir(path)`` creates and checks
    an output directory before any work (:mod:`fxsim.cli` passes its own,
    which explains an unwritable path; default :func:`os.makedirs`).
    Expected failures raise ValueError, OSError or ImportError, which
    :func:`fxsim.cli.main` turns into one line and exit status 2."""
    make = out_dir or (lambda path: os.makedirs(path, exist_ok=True))
    _check_name(args.preset)
    if args.golden is not None:
        from .golden import write_step_vectors
        from .presets import build

        make(args.golden)
        run_ = build(args.preset, args.seed, epochs=args.epochs, quick=args.quick)
        manifest = write_step_vectors(run_, args.golden, step=args.step)
        print(f"fxsim train {args.preset}: golden vectors of step {args.step} "
              f"({len(manifest['arrays'])} arrays) in {args.golden}/", file=sys.stderr)
        return 0
    make(args.out)
    result = train_preset(args.preset, args.seed, epochs=args.epochs, quick=args.quick)
    path = os.path.join(args.out, "result.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)
        fh.write("\n")
    from .curves import write_learning_curve

    png = os.path.join(args.out, "learning_curve.png")
    if write_learning_curve(png, result):
        print(f"fxsim train: wrote {path} and {png}", file=sys.stderr)
    else:
        print(f"fxsim train: wrote {path}; no learning_curve.png: matplotlib is not installed "
              "(pip install 'fxsim[analysis]')", file=sys.stderr)
    return 0
