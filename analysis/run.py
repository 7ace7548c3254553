"""``fxsim analyze``: run the studies, write ``report.md``, PNG figures and ``numbers.json``."""
from __future__ import annotations

import importlib
import json
import pathlib
import platform
import sys
import time

from . import STUDIES
from .sweep import check_scheduler, run_tasks


def _versions() -> str:
    import dask
    import numba
    import numpy
    import scipy

    import fxsim

    return (f"fxsim {fxsim.__version__}, numpy {numpy.__version__}, scipy {scipy.__version__}, "
            f"numba {numba.__version__}, dask {dask.__version__}, Python {platform.python_version()}")


def select(only=None) -> list[str]:
    """Study names to run: all, or those named in ``only`` (a list or comma-separated text)."""
    if not only:
        return list(STUDIES)
    names = only.split(",") if isinstance(only, str) else list(only)
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in STUDIES]
    if unknown:
        raise ValueError(f"unknown study {unknown[0]!r}; the studies are: {', '.join(STUDIES)}")
    return names


def run_all(out_dir="analysis-out", *, quick: bool = False, scheduler: str | None = None,
            only=None, workers: int | None = None, progress: bool = True, stream=None) -> dict:
    """Run the studies and write the report; return ``{study: Section}``.

    All studies' tasks go to the scheduler as one sweep (one progress bar);
    then each study summarizes its results into ``out_dir``."""
    stream = stream or sys.stderr
    names = select(only)
    check_scheduler(scheduler)  # an unreachable cluster fails in seconds, before any work
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    modules = {n: importlib.import_module(f"{__package__}.{n}") for n in names}
    plan = {n: m.tasks(quick) for n, m in modules.items()}
    every = [t for n in names for t in plan[n]]
    start = time.perf_counter()
    print(f"fxsim analyze: {len(names)} studies, {len(every)} tasks, "
          f"{'quick' if quick else 'full'} run, scheduler {scheduler or 'local processes'}",
          file=stream)
    results = run_tasks(every, scheduler, workers=workers, progress=progress, title="analyze")
    sections, at = {}, 0
    for n in names:
        part, at = results[at:at + len(plan[n])], at + len(plan[n])
        print(f"  summarizing {n} ...", file=stream)
        sections[n] = modules[n].summarize(part, out, quick)
    elapsed = time.perf_counter() - start
    _write(out, names, modules, sections, quick, scheduler, len(every), elapsed)
    print(f"fxsim analyze: wrote {out / 'report.md'} and {sum(len(s.figures) for s in sections.values())} "
          f"figures in {elapsed:.1f} s", file=stream)
    return sections


def _write(out, names, modules, sections, quick, scheduler, ntasks, elapsed) -> None:
    lines = ["# fxsim numerical studies", "",
             f"Run: `fxsim analyze{' --quick' if quick else ''}` ({ntasks} Dask tasks on "
             f"{scheduler or 'the local multiprocessing scheduler'}, {elapsed:.0f} s). {_versions()}.",
             "", "Every random draw is seeded from its task's parameters, so a rerun (on any "
             "scheduler) reproduces these numbers; `numbers.json` holds the key numbers.", "",
             "## Contents", ""]
    for i, n in enumerate(names, 1):
        lines.append(f"{i}. [{sections[n].title}](#{i}-{_anchor(sections[n].title)})")
    lines.append("")
    for i, n in enumerate(names, 1):
        lines += [f"## {i}. {sections[n].title}", "", sections[n].markdown.rstrip(), ""]
    (out / "report.md").write_text("\n".join(lines))
    numbers = {n: sections[n].numbers for n in names}
    (out / "numbers.json").write_text(json.dumps(numbers, indent=2, sort_keys=True, default=float) + "\n")


def _anchor(title: str) -> str:
    keep = "".join(c for c in title.lower() if c.isalnum() or c in " -")
    return keep.replace(" ", "-")
