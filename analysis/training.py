"""Training quantized networks: each paper's qualitative claim beside what
fxsim measures on scikit-learn's digits.

Every task trains one *variant* (a preset of :mod:`fxsim.train.presets`,
possibly with options of its builder) for one seed with
:func:`fxsim.train.loop.fit`, runs the preset's ``after_training`` hook
(McDonnell's BN recomputation), and evaluates on the held-out split.
Each task is deterministic (all randomness comes from the seed; no wall
time is recorded), so the results do not depend on the scheduler.  The full study runs every
variant at its default settings over seeds 0, 1, 2; ``quick`` runs each
preset's ``quick=True`` setting (tiny synthetic data, one or two epochs)
for seed 0 -- a smoke test of the machinery, not evidence.

Variants beyond the presets: ``banner8-mlp`` with every Range BN replaced
by a standard :class:`~fxsim.train.norm.BatchNorm` (same channels and
learned gamma/beta; the optimizer re-bound to the new parameters before
any step), McDonnell's net with plain +-1 weights (``sign="plain"``), and
Graham's net with k = 2 and 8 bits (``bits=``).  A preset whose module is
not available (e.g. the MLP presets before they exist) is skipped with a
note, not drawn, never given a placeholder value.

Verdicts (full run only) follow stated rules on the mean test accuracy
over seeds: "no loss" claims hold when ``mean(a) >= mean(b) - tol``
(``tol`` in points, stated per row); "better" claims hold when
``mean(a) - mean(b)`` exceeds the larger seed standard deviation of the
two (ddof 1), are "not resolved" when the difference is within it and
"reversed" when ``b`` wins by more than it.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

from . import report
from .sweep import Task

TITLE = "Training: the papers' claims beside fxsim's measurements (digits)"

#: seeds per variant, by ``quick``
SEEDS = {True: (0,), False: (0, 1, 2)}


@dataclass(frozen=True)
class Variant:
    key: str                      # the row label
    preset: str                   # a name of fxsim.train.presets.PRESETS
    options: tuple = ()           # keyword options of the preset's builder, as (name, value)
    swap_range_bn: bool = False   # replace every RangeBN by a standard BatchNorm


VARIANTS = (
    Variant("float-mlp", "float-mlp"),
    Variant("bnn-mlp", "bnn-mlp"),
    Variant("shift-bnn-mlp", "shift-bnn-mlp"),
    Variant("banner8-mlp", "banner8-mlp"),
    Variant("banner8-mlp, standard BN", "banner8-mlp", swap_range_bn=True),
    Variant("mcdonnell-resnet", "mcdonnell-resnet"),
    Variant("mcdonnell-resnet, plain sign", "mcdonnell-resnet", (("sign", "plain"),)),
    Variant("float-cnn", "float-cnn"),
    Variant("graham-cnn, k=8", "graham-cnn", (("bits", 8),)),
    Variant("graham-cnn, k=4", "graham-cnn"),
    Variant("graham-cnn, k=2", "graham-cnn", (("bits", 2),)),
)


@dataclass(frozen=True)
class Claim:
    paper: str
    text: str
    a: str                        # variant key
    b: str                        # variant key (the baseline)
    kind: str                     # "no_loss" or "better"
    tol: float = 0.0              # points, for "no_loss"


CLAIMS = (
    Claim("Hubara et al.", "binary weights and activations train close to float accuracy",
          "bnn-mlp", "float-mlp", "no_loss", 2.0),
    Claim("Hubara et al.", "shift-based BN and shift AdaMax cost no accuracy",
          "shift-bnn-mlp", "bnn-mlp", "no_loss", 1.0),
    Claim("Banner et al.", "8-bit training (Range BN, GEMMLOWP, bifurcated dW) matches float",
          "banner8-mlp", "float-mlp", "no_loss", 1.0),
    Claim("Banner et al.", "Range BN works as well as standard BN under 8-bit training",
          "banner8-mlp", "banner8-mlp, standard BN", "no_loss", 1.0),
    Claim("McDonnell", "the constant He scale of 1-bit weights beats plain +-1 in a residual net",
          "mcdonnell-resnet", "mcdonnell-resnet, plain sign", "better"),
    Claim("Graham", "8-bit normalized activations inside BN cost (almost) nothing",
          "graham-cnn, k=8", "float-cnn", "no_loss", 1.0),
    Claim("Graham", "4-bit normalized activations inside BN cost little",
          "graham-cnn, k=4", "float-cnn", "no_loss", 1.5),
    Claim("Graham", "fewer bits cost accuracy: k=4 beats k=2",
          "graham-cnn, k=4", "graham-cnn, k=2", "better"),
)

#: curve panels: (title, variant keys)
PANELS = (
    ("Hubara: binary and shift-based vs float MLP", ("float-mlp", "bnn-mlp", "shift-bnn-mlp")),
    ("Banner: 8-bit, Range BN vs BN", ("float-mlp", "banner8-mlp", "banner8-mlp, standard BN")),
    ("McDonnell: scaled vs plain sign (1-bit ResNet)",
     ("mcdonnell-resnet", "mcdonnell-resnet, plain sign")),
    ("Graham: k-bit z inside BN vs float CNN",
     ("float-cnn", "graham-cnn, k=8", "graham-cnn, k=4", "graham-cnn, k=2")),
)


def variant(key: str) -> Variant:
    for v in VARIANTS:
        if v.key == key:
            return v
    raise ValueError(f"training study: unknown variant {key!r}")


# ---------------------------------------------------------------- one task
def swap_range_bn(run) -> int:
    """Replace every RangeBN inside ``run.model`` (in Sequential items and
    Residual bodies/shortcuts) by a BatchNorm of the same channels and
    ``affine``, rename the model and re-bind the optimizer (its parameter
    list and per-parameter state, empty before the first step).  Returns
    how many were replaced."""
    from fxsim.train.base import Residual, Sequential
    from fxsim.train.norm import BatchNorm, RangeBN

    count = 0

    def new(lay):
        nonlocal count
        count += 1
        return BatchNorm(lay.channels, affine=lay.affine)

    def visit(node):
        if isinstance(node, Sequential):
            for i, lay in enumerate(node.items):
                if isinstance(lay, RangeBN):
                    node.items[i] = new(lay)
                else:
                    visit(lay)
        elif isinstance(node, Residual):
            for attr in ("body", "shortcut"):
                lay = getattr(node, attr)
                if isinstance(lay, RangeBN):
                    setattr(node, attr, new(lay))
                elif lay is not None:
                    visit(lay)

    visit(run.model)
    if count:
        run.model.set_name(run.model.name)
        opt = run.optimizer
        if opt.t != 0:
            raise ValueError("swap_range_bn: the optimizer has already stepped")
        opt.params = list(run.model.named_parameters())
        opt.state = {name: {} for name, _, _ in opt.params}
        run.description += " [Range BN replaced by standard BN]"
    return count


def _builder(v: Variant):
    """The preset's builder function, resolved as :func:`fxsim.train.presets.build`
    does (``PRESETS[name] = "module:function"`` inside fxsim.train)."""
    from fxsim.train import presets

    module, function = presets.PRESETS[v.preset].split(":")
    return getattr(importlib.import_module(f"fxsim.train.{module}"), function)


def run_variant(key: str, seed: int, quick: bool) -> dict:
    """Task: train variant ``key`` for ``seed`` and evaluate it (see the
    module doc).  ``status``: ``"ok"``, ``"skipped"`` (preset unavailable or
    the variant does not apply; ``note`` says why) or ``"diverged"`` (a
    non-finite loss)."""
    from fxsim.train.loop import evaluate, fit

    v = variant(key)
    out = {"key": key, "preset": v.preset, "options": dict(v.options), "seed": int(seed),
           "quick": bool(quick)}
    try:   # only a missing module or function skips; errors inside a builder propagate
        builder = _builder(v)
    except (ImportError, AttributeError) as err:
        return {**out, "status": "skipped",
                "note": f"preset {v.preset} not available ({type(err).__name__}: {err})"}
    run = builder(seed, epochs=None, quick=quick, **dict(v.options))
    if v.swap_range_bn and swap_range_bn(run) == 0:
        return {**out, "status": "skipped", "note": f"{v.preset} has no Range BN to replace"}
    try:
        hist = fit(run.model, run.loss, run.optimizer, run.data, run.epochs, run.seed,
                   progress=False, batch_size=run.batch_size, schedule=run.schedule)
    except FloatingPointError as err:
        return {**out, "status": "diverged", "note": str(err)}
    if run.after_training is not None:
        run.after_training(run.model, run.data)
    acc = evaluate(run.model, run.data.x_test, run.data.y_test)["accuracy"]
    return {**out, "status": "ok", "epochs": run.epochs, "test_accuracy": float(acc),
            "curve": [float(a) for a in hist["test_accuracy"]],
            "train_loss": [float(x) for x in hist["train_loss"]],
            "after_training": run.after_training is not None,
            "weights_sha256": hist["weights_sha256"], "description": run.description,
            "data": run.data.name}


def tasks(quick: bool) -> list:
    return [Task(run_variant, {"key": v.key, "seed": s, "quick": quick},
                 f"training {v.key} seed {s}")
            for v in VARIANTS for s in SEEDS[quick]]


# ---------------------------------------------------------------- summary
@dataclass
class Stats:
    key: str
    runs: list = field(default_factory=list)       # results with status ok
    others: list = field(default_factory=list)     # skipped / diverged results

    @property
    def accs(self):
        return [r["test_accuracy"] for r in self.runs]

    @property
    def mean(self):
        return float(np.mean(self.accs)) if self.runs else None

    @property
    def sd(self):
        return float(np.std(self.accs, ddof=1)) if len(self.runs) > 1 else 0.0


def _collect(results) -> dict:
    stats = {v.key: Stats(v.key) for v in VARIANTS}
    for r in results:
        (stats[r["key"]].runs if r["status"] == "ok" else stats[r["key"]].others).append(r)
    return stats


def _slug(key: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in key).strip("_").replace("__", "_")


def verdict(claim: Claim, a: Stats, b: Stats, quick: bool):
    """``(difference in points or None, verdict text)`` by the module doc's rules."""
    for s in (a, b):
        if not s.runs:
            why = "; ".join(sorted({r.get("note", r["status"]) for r in s.others})) or "no run"
            return None, f"not measured ({s.key}: {why})"
    diff = 100.0 * (a.mean - b.mean)
    if quick:
        return diff, "quick run (tiny synthetic data, 1 seed): not evidence"
    if claim.kind == "no_loss":
        ok = diff >= -claim.tol
        return diff, (f"reproduces (within {claim.tol:g} points)" if ok
                      else f"does not reproduce (loss > {claim.tol:g} points)")
    spread = 100.0 * max(a.sd, b.sd)
    if diff > spread:
        return diff, f"reproduces (difference > seed sd {spread:.2f} points)"
    if diff >= -spread:
        return diff, f"not resolved at this scale (|difference| <= seed sd {spread:.2f} points)"
    return diff, f"reversed (b better by more than the seed sd {spread:.2f} points)"


def _curves(ax, stats, keys, what):
    drawn, longest = 0, 0
    for key, color in zip(keys, ("k", "tab:blue", "tab:orange", "tab:green", "tab:red")):
        s = stats[key]
        if not s.runs:
            continue
        curves = [np.asarray(r[what], dtype=float) for r in s.runs]
        n = min(len(c) for c in curves)
        if n == 0:
            continue
        x = np.arange(1, n + 1)
        longest = max(longest, n)
        for c in curves:
            ax.plot(x, c[:n], color=color, lw=0.6, alpha=0.35)
        mean = np.mean([c[:n] for c in curves], axis=0)
        ax.plot(x, mean, "o-", color=color, ms=3, lw=1.4,
                label=f"{key} (mean of {len(curves)})")
        if what == "curve" and s.runs[0].get("after_training"):
            ax.plot([n + 0.4], [s.mean], "*", color=color, ms=10,
                    label=f"{key}: after BN recomputation")
        drawn += 1
    if longest:
        ax.set_xticks(range(1, longest + 1, max(1, -(-longest // 15))))   # epochs are integers
    return drawn


def summarize(results: list, out_dir, quick: bool) -> report.Section:
    stats = _collect(results)
    numbers, figures, md = {}, [], []
    md.append(
        "Every run trains a preset of `fxsim.train` (`fxsim train PRESET`) with every GEMM "
        "through fxsim in its stated operand formats, accumulator and order, then evaluates "
        "on the held-out split of scikit-learn's digits (the split drawn by the seed). "
        + ("**Quick run**: each preset's tiny `quick` setting (synthetic blobs, one or two "
           "epochs, seed 0) -- it exercises every layer and the study's machinery; its "
           "accuracies say nothing about the papers. " if quick else
           f"Default settings, seeds {', '.join(map(str, SEEDS[False]))}. ")
        + "Variants: `banner8-mlp, standard BN` replaces each Range BN by a standard BN "
        "(learned gamma/beta, PyTorch running statistics); `plain sign` gives McDonnell's net "
        "+-1 weights instead of the constant He scale; `k=` is the width of Graham's "
        "normalized activation `z` (format `s{k}.{k-2}`, range [-2, 2)).\n")

    rows = []
    for v in VARIANTS:
        s = stats[v.key]
        if s.runs:
            accs = " / ".join(f"{100 * a:.2f}" for a in s.accs)
            sd = f"{100 * s.sd:.2f}" if len(s.runs) > 1 else "-- (1 seed)"
            rows.append([v.key, accs, f"{100 * s.mean:.2f}", sd, s.runs[0]["epochs"]])
            numbers[f"{_slug(v.key)}_accuracy_mean"] = s.mean
        else:
            why = "; ".join(sorted({r.get("note", r["status"]) for r in s.others})) or "no run"
            rows.append([v.key, f"not run: {why}", "--", "--", "--"])
    md.append(report.table(["variant", "test accuracy per seed (%)", "mean (%)", "sd (points)",
                            "epochs"], rows))
    skipped = [v.key for v in VARIANTS if not stats[v.key].runs]
    if skipped:
        md.append(f"Not measured (left out of the figures, no placeholder values): "
                  f"{', '.join(skipped)}.\n")

    crow = []
    for c in CLAIMS:
        diff, text = verdict(c, stats[c.a], stats[c.b], quick)
        if diff is not None:
            numbers[f"claim_{_slug(c.a)}_vs_{_slug(c.b)}_points"] = diff
        crow.append([c.paper, c.text, f"{c.a} vs {c.b}",
                     "--" if diff is None else f"{diff:+.2f}", text])
    md.append("**The claims.** Difference = mean test accuracy of the first variant minus the "
              "second, in points.\n")
    md.append(report.table(["paper", "claim", "measured", "difference (points)", "verdict"],
                           crow))

    fig, axes = report.new_figure(2, 2, size=(12, 8))
    any_drawn = False
    for ax, (title, keys) in zip(np.ravel(axes), PANELS):
        drawn = _curves(ax, stats, keys, "curve")
        any_drawn |= bool(drawn)
        ax.set_title(title if drawn else f"{title}\n(not measured)", fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(0.5, ax.dataLim.x1 + 0.5 if drawn else 1.5)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=7, loc="best", framealpha=0.6)
    md.append(report.save(fig, out_dir, "training_curves",
                          "Test accuracy after each epoch (thin: each seed; thick: mean; star: "
                          "the final accuracy after McDonnell's BN recomputation). Linear axis "
                          "from 0: a zero accuracy shows as a point on the bottom line.",
                          figures))
    fig, axes = report.new_figure(2, 2, size=(12, 8))
    for ax, (title, keys) in zip(np.ravel(axes), PANELS):
        drawn = _curves(ax, stats, keys, "train_loss")
        ax.set_title(title if drawn else f"{title}\n(not measured)", fontsize=9)
        top = 1.06 * ax.dataLim.y1 if drawn else 1.0
        ax.set_ylim(-0.03 * top, top)                 # a zero loss stays a visible point
        ax.set_xlim(0.5, ax.dataLim.x1 + 0.5 if drawn else 1.5)
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss (mean over the epoch's batches)")
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=7, loc="best", framealpha=0.6)
    md.append(report.save(fig, out_dir, "training_loss",
                          "Training loss per epoch (each preset's own loss: cross-entropy, or "
                          "square hinge for the binary MLPs). Linear axis from 0.", figures))
    numbers["variants_measured"] = float(sum(1 for v in VARIANTS if stats[v.key].runs))
    if not any_drawn:
        md.append("No variant could be trained: nothing to draw.\n")
    if not quick:
        md.append(_discussion(stats))
    return report.Section(TITLE, "\n".join(md), numbers, figures)


def _discussion(stats) -> str:
    """Plain statements of scale: what the digits can and cannot show."""
    parts = ["**Scale.** These are 8x8 digits with 1437 training images and 360 test images: "
             "one test image is 0.28 points, so differences below about one point are within "
             "the noise of a single split, and the seed standard deviation above (which also "
             "varies the split) is the yardstick. The papers' claims were made on MNIST, "
             "CIFAR and ImageNet with far larger networks; a claim that does not reproduce "
             "here is a statement about this scale, not a refutation."]
    m, p = stats["mcdonnell-resnet"], stats["mcdonnell-resnet, plain sign"]
    if m.runs and p.runs:
        diff = 100 * (m.mean - p.mean)
        parts.append(
            f"McDonnell's scaled sign gives {100 * m.mean:.2f}% and plain +-1 weights "
            f"{100 * p.mean:.2f}% ({diff:+.2f} points). With batch norm after every convolution "
            "a constant per-layer scale changes only how the residual branch weighs against "
            "the shortcut (and the weight of BN's epsilon), so in a net of two residual blocks "
            "the scale can only matter through that balance.")
    return "\n\n".join(parts) + "\n"
