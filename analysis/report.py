"""The pieces a study's ``summarize`` builds its section from.

Figures are drawn on ``matplotlib.figure.Figure`` objects (no pyplot
state, no display needed) and saved as PNG next to ``report.md``.
"""
from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass, field


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
