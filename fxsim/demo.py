"""``fxsim demo`` (what ``make demo`` runs): a quantized CNN as a golden model.

A small network in the seed papers' style, on 3x16x16 images of ten
classes (noisy, shifted copies of ten smooth random patterns, generated
from a seed: nothing is downloaded)::

    input   uint8 pixels                                             u8.0
    conv1   3->32, 3x3, pad 1: the 8-bit input by bit planes times
            binary weights (Hubara et al.), exact integer sums       s32.0
    act1    BN + sign folded into integer thresholds (FINN)          +-1
    conv2   32->64, 3x3, stride 2, pad 1 (zero): XNOR-popcount       s32.0
    act2    BN + sign as thresholds                                  +-1
    conv3   64->64, 3x3, stride 2, pad 1: XNOR-popcount              s32.0
    act3    BN folded into TFLite requantization (m0, shift, bias)   s8.0
    fc      1024->10, int8 x int8 weights, exact int32 accumulator    s32.0
    logits  requantized, gemmlowp double rounding                    s8.0

Binary layers use McDonnell's scaled sign ``sqrt(2/(F*F*C_in)) * sign(W)``
(a per-layer constant, folded into the next BN's input scale); BN has no
learned scale or offset (McDonnell: gamma = 1, beta = 0) and its statistics
are those of the float model over the training images.  The classifier is
fitted by ridge regression on the float model's features, then quantized to
int8 per output channel.  Binary values are stored as 1-bit codes with
1 meaning -1 (DESIGN.md's packing convention).

Every integer layer is checked two ways: against a plain numpy integer
computation (bit for bit; the claim is zero differences) and against the
float model's layer applied to the same input (signs that agree; int8
outputs within a stated number of steps).  The golden vectors of every
layer go to ``--out``: one ``.memh`` per array and ``golden.npz`` with a
JSON manifest (also written as ``manifest.json``).
"""
from __future__ import annotations

import json
import math
import os
import time

import numpy as np

from . import binary, io, linalg
from .array import QArray, asarray
from .codec import quantize
from .nn import bn as nn_bn
from .nn import quantizers, requant

CLASSES = 10
IMAGE = (3, 16, 16)
EPS = 1e-5
BINARY = "u1.0"  # code 1 = -1, code 0 = +1


# ------------------------------------------------------------------ data and the float model
def class_templates(rng) -> np.ndarray:
    """Ten smooth random patterns (10, 3, 16, 16) in [-1, 1], one per class."""
    from scipy.ndimage import gaussian_filter

    t = gaussian_filter(rng.normal(size=(CLASSES,) + IMAGE), (0, 0, 2, 2))
    return t / np.abs(t).max(axis=(1, 2, 3), keepdims=True)


def make_images(n: int, templates, rng) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images (N, 3, 16, 16) and their labels: the class's
    template shifted by up to one pixel, at a random contrast, plus
    Gaussian noise (sigma 0.2 of full scale), rounded and clipped to 0..255."""
    labels = rng.integers(0, CLASSES, n)
    shifts = rng.integers(-1, 2, (n, 2))
    t = np.stack([np.roll(templates[c], tuple(s), axis=(1, 2)) for c, s in zip(labels, shifts)])
    contrast = rng.uniform(0.6, 1.0, (n, 1, 1, 1))
    img = 0.5 + 0.4 * contrast * t + rng.normal(0, 0.2, t.shape)
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8), labels


def _patches(x, k, stride, pad, pad_value=0.0):
    """im2col: (N, Ho, Wo, C*k*k) with (c, kh, kw) order, channel slowest."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=pad_value)
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n, win.shape[2], win.shape[3], c * k * k)


def _conv(x, w, stride, pad):
    """Plain float64 (or int64) convolution by im2col: NCHW x OIHW -> NCHW."""
    cols = _patches(x, w.shape[-1], stride, pad)
    return np.moveaxis(cols @ w.reshape(w.shape[0], -1).T, -1, 1)


def _bn(v, mean, var):
    """Float64 batch norm without scale and offset, channels on axis 1."""
    shape = (1, -1) + (1,) * (v.ndim - 2)
    return (v - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + EPS)


def _sign(v):
    return np.where(v >= 0, 1.0, -1.0)


class FloatModel:
    """The float64 network the integer one is derived from."""

    LAYERS = (("conv1", 3, 32, 1), ("conv2", 32, 64, 2), ("conv3", 64, 64, 2))

    def __init__(self, rng):
        self.w = {}      # the real weights (He init)
        self.scale = {}  # McDonnell's per-layer constant
        for name, cin, cout, _ in self.LAYERS:
            self.w[name] = rng.normal(0, math.sqrt(2 / (9 * cin)), (cout, cin, 3, 3))
            self.scale[name] = quantizers.mcdonnell_scale(3, cin)
        self.stats = {}

    def wb(self, name):
        """The scaled sign weights of a binary layer."""
        return self.scale[name] * quantizers.sign(self.w[name])

    def pre(self, name, x):
        """The layer's pre-BN value from its float input."""
        stride = dict((n, s) for n, _, _, s in self.LAYERS)[name]
        return _conv(x, self.wb(name), stride, 1)

    def features(self, images, fit: bool = False):
        """Everything up to the classifier's input; ``fit`` sets the BN statistics."""
        x = images.astype(np.float64) / 255
        out = {}
        for name in ("conv1", "conv2", "conv3"):
            v = self.pre(name, x)
            if fit:
                self.stats[name] = (v.mean(axis=(0, 2, 3)), v.var(axis=(0, 2, 3)))
            y = _bn(v, *self.stats[name])
            out[name] = v
            x = _sign(y) if name != "conv3" else y
        out["act3"] = x
        return out

    def fit_classifier(self, feats, labels, ridge=30.0):
        f = feats.reshape(len(feats), -1)
        f1 = np.hstack([f, np.ones((len(f), 1))])
        target = np.eye(CLASSES)[labels] * 2 - 1
        sol = np.linalg.solve(f1.T @ f1 + ridge * np.eye(f1.shape[1]), f1.T @ target)
        self.fc_w, self.fc_b = sol[:-1], sol[-1]

    def logits(self, act3):
        return act3.reshape(len(act3), -1) @ self.fc_w + self.fc_b


# ------------------------------------------------------------------ the integer model
class IntegerModel:
    """The bit-exact network: integer parameters derived from a FloatModel."""

    def __init__(self, fm: FloatModel, act3_scale: float, logit_scale: float):
        self.wsign = {n: quantizers.sign(fm.w[n]).astype(np.int8) for n in fm.w}
        self.in_scale = {"conv1": fm.scale["conv1"] / 255, "conv2": fm.scale["conv2"],
                         "conv3": fm.scale["conv3"]}
        self.th = {n: nn_bn.thresholds_sign(1.0, 0.0, *fm.stats[n], EPS, in_scale=self.in_scale[n])
                   for n in ("conv1", "conv2")}
        self.act3_scale, self.logit_scale = act3_scale, logit_scale
        self.fold3 = nn_bn.fold_bn(1.0, 0.0, *fm.stats["conv3"], EPS, self.in_scale["conv3"], "s8.0",
                                   out_scale=act3_scale)
        # int8 classifier: symmetric per output channel
        self.fc_scale = np.abs(fm.fc_w).max(axis=0) / 127
        self.fc_wq = quantize(fm.fc_w / self.fc_scale, "s8.0").astype(np.int8)   # by the core
        self.fc_bias = quantize(fm.fc_b / (act3_scale * self.fc_scale), "s32.0").astype(np.int32)
        self.fc_m0, self.fc_shift = requant.quantize_multiplier(act3_scale * self.fc_scale / logit_scale)

    def conv1(self, images):
        """8-bit pixels by bit planes x packed +-1 weights (Hubara et al.'s first layer)."""
        n = len(images)
        cols = _patches(images, 3, 1, 1, pad_value=0).reshape(-1, 27)
        w = binary.pack(self.wsign["conv1"].reshape(32, 27).T, axis=-2)
        acc = binary.bitserial_matmul(cols, w, a_bits=8, a_signed=False)
        return acc.reshape(n, 16, 16, 32).transpose(0, 3, 1, 2).astype(np.int32)

    def sign_act(self, name, acc):
        """BN + sign: one threshold per channel, +-1 out (int8)."""
        level = nn_bn.apply_thresholds(acc, self.th[name], axis=1)
        return (2 * level - 1).astype(np.int8)

    def bconv(self, name, act):
        return binary.conv2d(act, self.wsign[name], stride=2, padding=1, pad_value=0)

    def act3(self, acc):
        return nn_bn.apply_folded_bn(acc, self.fold3, axis=1).astype(np.int8)

    def fc(self, act3):
        flat = act3.reshape(len(act3), -1)
        acc = linalg.matmul(asarray(flat, "s8.0"), asarray(self.fc_wq, "s8.0"), acc="s32.0")
        return acc.to_float().astype(np.int32)

    def logits(self, acc):
        return requant.requantize(acc, self.fc_bias, self.fc_m0, self.fc_shift, 0,
                                  channel_axis=1).astype(np.int8)


# ------------------------------------------------------------------ checks
def _fold_bound(fold, acc):
    """The largest distance from the exact BN (in output steps) that fold_bn's
    docstring allows: the requantization's rounding (1/2, plus 2**-(r+1) for a
    double rounding by r = -shift > 0 bits), the bias rounded to an integer
    (|M|/2) and m0's 31 bits (|M| * 2**-31 * |acc + bias|), per channel."""
    m = np.abs(fold.multiplier)
    r = -fold.shift.astype(np.float64)
    rounding = 0.5 + np.where(r > 0, 2.0 ** -(r + 1), 0.0)
    reach = np.abs(acc.astype(np.float64) + fold.bias.reshape(1, -1, 1, 1)).max(axis=(0, 2, 3))
    return float(np.max(rounding + m / 2 + m * 2.0 ** -31 * reach))


def _binary_codes(pm1):
    return (np.asarray(pm1) < 0).astype(np.uint8)


def _count(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return int(np.count_nonzero(a != b)), int(a.size)


class _Steps:
    """Prints one progress line per step and keeps the summary rows."""

    def __init__(self, total):
        self.total, self.done, self.rows = total, 0, []

    def run(self, what, fn, *args):
        self.done += 1
        print(f"  [{self.done}/{self.total}] {what} ...", end="", flush=True)
        t = time.perf_counter()
        out = fn(*args)
        self.last = time.perf_counter() - t
        print(f" {self.last:.2f} s", flush=True)
        return out

    def row(self, *cells):
        self.rows.append(cells + (f"{self.last:.2f}",))


def run(out_dir: str = "demo-out", samples: int = 256, train: int = 2048, seed: int = 0) -> int:
    """Build, run, cross-check and write the golden vectors; 0 when every bit-exact check holds."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    print(f"fxsim demo: a binary CNN with an 8-bit input layer and an int8 classifier, "
          f"{samples} sample images (seed {seed})")
    print("  building the float model: He-init weights, BN statistics and a ridge-regression "
          f"classifier from {train} training images ...", flush=True)
    fm = FloatModel(rng)
    templates = class_templates(rng)
    train_x, train_y = make_images(train, templates, rng)
    feats = fm.features(train_x, fit=True)
    fm.fit_classifier(feats["act3"], train_y)
    act3_scale = float(np.abs(feats["act3"]).max()) / 127
    logit_scale = float(np.abs(fm.logits(feats["act3"])).max()) / 127
    im = IntegerModel(fm, act3_scale, logit_scale)
    x, labels = make_images(samples, templates, np.random.default_rng([seed, 1]))

    steps = _Steps(10)
    golden, ok = {}, True
    print("  running the integer model, each layer checked against numpy integers and the float model:")
    def check_conv(name, what, acc, x_in, x_float, stride):
        """A conv layer: against numpy's integer (or exact float64) conv, and the float layer."""
        oracle = _conv(x_in, im.wsign[name].astype(x_in.dtype), stride, 1)
        bad, n = _count(acc, oracle)
        steps_off = np.max(np.abs(acc * im.in_scale[name] - fm.pre(name, x_float))) / im.in_scale[name]
        steps.row(name, what, "s32.0", acc.shape, f"{bad} of {n}", f"max diff {steps_off:.1e} steps")
        return bad == 0

    def check_sign(name, conv, act, acc):
        """BN + sign: against the float64 BN of the same accumulator."""
        ref = _sign(_bn(acc * im.in_scale[conv], *fm.stats[conv]))
        bad, n = _count(act, ref)
        steps.row(name, "BN+sign thresholds", BINARY, act.shape, "-", f"{n - bad} of {n} signs agree")

    acc1 = steps.run("conv1: 8 bit planes x binary weights", im.conv1, x)
    ok &= check_conv("conv1", "bit-serial 8b x 1b", acc1, x.astype(np.int64), x / 255, 1)
    act1 = steps.run("act1: BN + sign as thresholds", im.sign_act, "conv1", acc1)
    check_sign("act1", "conv1", act1, acc1)
    acc2 = steps.run("conv2: XNOR-popcount", im.bconv, "conv2", act1)
    ok &= check_conv("conv2", "XNOR-popcount", acc2, act1.astype(np.float64), act1.astype(np.float64), 2)
    act2 = steps.run("act2: BN + sign as thresholds", im.sign_act, "conv2", acc2)
    check_sign("act2", "conv2", act2, acc2)
    acc3 = steps.run("conv3: XNOR-popcount", im.bconv, "conv3", act2)
    ok &= check_conv("conv3", "XNOR-popcount", acc3, act2.astype(np.float64), act2.astype(np.float64), 2)

    act3 = steps.run("act3: BN folded into requantization", im.act3, acc3)
    exact = _bn(acc3 * im.in_scale["conv3"], *fm.stats["conv3"]) / act3_scale
    err3 = float(np.max(np.abs(act3 - np.clip(exact, -128, 127))))
    steps.row("act3", "folded BN, requant", "s8.0", act3.shape, "-",
              f"max {err3:.2f} steps off (bound {_fold_bound(im.fold3, acc3):.2f})")

    acc_fc = steps.run("fc: int8 x int8, int32 accumulator", im.fc, act3)
    oracle = act3.reshape(samples, -1).astype(np.int64) @ im.fc_wq.astype(np.int64)
    bad, n = _count(acc_fc, oracle)
    real = act3.reshape(samples, -1) * act3_scale @ (im.fc_wq * im.fc_scale)
    steps.row("fc", "int8 GEMM, exact", "s32.0", acc_fc.shape, f"{bad} of {n}", "exact sum")
    ok &= bad == 0

    logits = steps.run("logits: requantized (double rounding)", im.logits, acc_fc)
    ref_logits = (real + im.fc_bias * act3_scale * im.fc_scale) / logit_scale
    err_l = float(np.max(np.abs(logits - np.clip(ref_logits, -128, 127))))
    steps.row("logits", "requantize", "s8.0", logits.shape, "-", f"max {err_l:.2f} steps off")

    float_feats = steps.run("float model end to end", fm.features, x)
    float_pred = np.argmax(fm.logits(float_feats["act3"]), axis=1)
    int_pred = np.argmax(logits, axis=1)  # first maximum, as numpy

    arrays = {
        "input": asarray(x, "u8.0"),
        "conv1.weight": QArray(_binary_codes(im.wsign["conv1"]), BINARY),
        "conv1.acc": asarray(acc1, "s32.0"),
        "act1.threshold": asarray(im.th["conv1"].thresholds.reshape(-1), "s32.0"),
        "act1": QArray(_binary_codes(act1), BINARY),
        "conv2.weight": QArray(_binary_codes(im.wsign["conv2"]), BINARY),
        "conv2.acc": asarray(acc2, "s32.0"),
        "act2.threshold": asarray(im.th["conv2"].thresholds.reshape(-1), "s32.0"),
        "act2": QArray(_binary_codes(act2), BINARY),
        "conv3.weight": QArray(_binary_codes(im.wsign["conv3"]), BINARY),
        "conv3.acc": asarray(acc3, "s32.0"),
        "act3.m0": asarray(im.fold3.m0, "s32.0"),
        "act3.shift": asarray(im.fold3.shift, "s8.0"),
        "act3.bias": asarray(im.fold3.bias, "s32.0"),
        "act3": asarray(act3, "s8.0"),
        "fc.weight": asarray(im.fc_wq, "s8.0"),
        "fc.bias": asarray(im.fc_bias, "s32.0"),
        "fc.acc": asarray(acc_fc, "s32.0"),
        "logits.m0": asarray(im.fc_m0, "s32.0"),
        "logits.shift": asarray(im.fc_shift, "s8.0"),
        "logits": asarray(logits, "s8.0"),
    }
    steps.run("writing golden vectors", _write, out_dir, arrays, seed, samples, im)

    print()
    head = ("layer", "operation", "format", "shape", "vs numpy ints", "vs float model", "s")
    rows = [head] + [tuple(str(c) for c in r) for r in steps.rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for i, r in enumerate(rows):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))
    print()
    acc_int = float(np.mean(int_pred == labels))
    acc_float = float(np.mean(float_pred == labels))
    print(f"  accuracy on the {samples} samples: integer model {acc_int:.1%}, float model {acc_float:.1%}; "
          f"the two predict the same class for {np.mean(int_pred == float_pred):.1%}")

    # a fault, found: what fxsim diff shows a verification engineer
    dut = logits.copy()
    fault = np.random.default_rng([seed, 2]).integers(0, dut.size)
    dut.reshape(-1)[fault] ^= np.int8(1 << 3)
    report = io.diff(arrays["logits"], asarray(dut, "s8.0"), limit=3)
    print("\n  A device whose logits have one flipped bit, compared with the golden vectors:")
    print("  " + str(report).replace("\n", "\n  "))
    print(f"\n  Same from the shell: fxsim diff {os.path.join(out_dir, 'logits.memh')} DUT.memh --format s8.0")
    print(f"\nfxsim demo: {'all bit-exact checks passed' if ok else 'A BIT-EXACT CHECK FAILED'}; "
          f"golden vectors in {out_dir}/ ({len(arrays)} arrays); {time.perf_counter() - start:.1f} s")
    return 0 if ok else 1


def _write(out_dir, arrays, seed, samples, im):
    os.makedirs(out_dir, exist_ok=True)
    for name, q in arrays.items():
        io.write_memh(os.path.join(out_dir, f"{name}.memh"), q)
    layers = ["input", "conv1.acc", "act1", "conv2.acc", "act2", "conv3.acc", "act3", "fc.acc", "logits"]
    extra = {
        "network": __doc__.split("::")[1].split("Binary layers")[0].strip("\n"),
        "binary_codes": f"{BINARY}: code 1 means -1, code 0 means +1",
        "layouts": "activations NCHW, conv weights OIHW, fc weight (in, out) with in = C*H*W of act3; "
                   ".memh files hold the codes row-major, one per line",
        "thresholds": "act = +1 where acc >= threshold (per channel), else -1 (FINN MultiThreshold)",
        "requantization": "gemmlowp double rounding: SaturatingRoundingDoublingHighMul then "
                          "RoundingDivideByPOT; act3 = clamp(requant(acc + bias)), logits likewise",
        "act3_scale": im.act3_scale, "logit_scale": im.logit_scale, "samples": samples,
    }
    io.write_npz(os.path.join(out_dir, "golden.npz"), arrays, rounding="nearest_even",
                 seeds={"demo": seed}, layers=layers, extra=extra)
    _, manifest = io.read_npz(os.path.join(out_dir, "golden.npz"))
    with open(os.path.join(out_dir, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
