"""The pieces a study's ``summarize`` builds its section from.

Figures are drawn on ``matplotlib.figure.Figure`` objects (no pyplot
state, no display needed) and saved as PNG next to ``report.md``.
"""
from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Section:
    """One study's part of the report.

    ``markdown``: the body (tables, prose, image links made by :func:`save`);
    ``numbers``: the key numbers, ``{name: float}``, written to numbers.json
    and checked by the tests; ``figures``: PNG file names written."""
    title: str
    markdown: str
    numbers: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)


def new_figure(nrows: int = 1, ncols: int = 1, *, size=(6.4, 4.2)):
    """A figure and its axes (an array of them when nrows * ncols > 1)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=True)


def save(fig, out_dir, name: str, caption: str, figures: list | None = None) -> str:
    """Save ``fig`` as ``out_dir/name`` (PNG); return the markdown image line.

    When ``figures`` is given the file name is appended to it."""
    if not name.endswith(".png"):
        name += ".png"
    path = pathlib.Path(out_dir) / name
    fig.savefig(path, dpi=110)
    if figures is not None:
        figures.append(name)
    return f"![{caption}]({name})\n\n*{caption}*\n"


def fmt_number(value, digits: int = 4) -> str:
    """A number for a table: integers as such, floats to ``digits`` significant digits."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == 0:
        return "0"
    return f"{value:.{digits}g}"


def table(headers, rows, digits: int = 4) -> str:
    """A markdown table; numbers formatted by :func:`fmt_number`."""
    lines = ["| " + " | ".join(str(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(fmt_number(v, digits) for v in row) + " |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- zeros on log axes
def zero_floor(values, decades: int = 1) -> float:
    """Where to draw exact zeros on a log axis: a power of ten ``decades``
    below the smallest positive value in ``values`` (1e-3 when none is)."""
    pos = [float(v) for v in values if v > 0 and math.isfinite(float(v))]
    if not pos:
        return 1e-3
    return 10.0 ** (math.floor(math.log10(min(pos))) - decades)


def floor_line(ax, floor: float, text: str = "exact (0)", at: float = 0.01) -> None:
    """A dotted horizontal line at ``floor`` on a log-scale axis, labelled
    ``text``: the points drawn on it (by :func:`plot_with_zeros`) are exact
    zeros, which a log scale cannot show at their value.  ``at``: where the
    label starts, as a fraction of the axis width."""
    ax.axhline(floor, color="0.35", lw=0.8, ls=(0, (1, 2)), zorder=1)
    ax.text(at, floor, " " + text, transform=ax.get_yaxis_transform(), va="bottom", ha="left",
            fontsize=7, color="0.3")


def plot_with_zeros(ax, x, y, floor: float, fmt: str = "o-", *, zero_marker: str = "o", **kw):
    """Plot the positive points of ``(x, y)`` as usual and the exact zeros as
    hollow ``zero_marker`` markers on the floor line (no placeholder value
    enters the data line: it is broken where y is 0)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    zero = y == 0
    line = np.where(zero, np.nan, y)
    label = kw.pop("label", None)
    handles = ax.plot(x, line, fmt, label=label, **kw)
    color = handles[0].get_color() if handles else None
    if zero.any():
        ax.plot(x[zero], np.full(int(zero.sum()), floor), zero_marker, mfc="none", color=color,
                ms=kw.get("ms", 5), ls="none")
    return handles
