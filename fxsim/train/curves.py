"""The learning-curve PNG of ``fxsim train``: train loss and test accuracy
per epoch, from a result dict of :func:`fxsim.train.command.train_preset`.

matplotlib is optional: :func:`write_learning_curve` returns False without
it (and writes nothing).  It draws on a :class:`matplotlib.figure.Figure`
with the Agg canvas, so pyplot's global state and backend are untouched.
"""
from __future__ import annotations

__all__ = ["write_learning_curve"]


def write_learning_curve(path, result) -> bool:
    """Write ``path`` (PNG): left, the train loss per epoch (log scale when
    positive); right, the test accuracy per epoch in percent.  Returns
    False, writing nothing, when matplotlib is not importable."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return False
    loss = list(result.get("train_loss", []))
    acc = [100.0 * a for a in result.get("test_accuracy_per_epoch", [])]
    epochs = list(range(1, len(loss) + 1))
    fig = Figure(figsize=(8.0, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    left.plot(epochs, loss, marker="o", markersize=3)
    if loss and min(loss) > 0:
        left.set_yscale("log")
    left.set_xlabel("epoch")
    left.set_ylabel("train loss (mean over batches)")
    right.plot(list(range(1, len(acc) + 1)), acc, marker="o", markersize=3, color="C1")
    right.set_xlabel("epoch")
    right.set_ylabel("test accuracy (%)")
    final = result.get("test_accuracy")
    if final is not None:
        right.axhline(100.0 * final, color="0.6", linestyle="--", linewidth=1,
                      label=f"final {100.0 * final:.2f}%")
        right.legend(loc="lower right")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"fxsim train {result.get('preset', '?')} (seed {result.get('seed', '?')})")
    fig.tight_layout()
    fig.savefig(path, format="png")
    return True
