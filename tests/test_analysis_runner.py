"""analysis/: the sweep gives identical numbers on every scheduler, and
``fxsim analyze`` writes a report with its figures and numbers."""
import importlib
import json
import math

import pytest

pytest.importorskip("dask")
pytest.importorskip("distributed")
pytest.importorskip("matplotlib")

from fxsim.studies import STUDIES  # noqa: E402
from fxsim.studies.run import select  # noqa: E402
from fxsim.studies.sweep import Progress, Task, run_tasks  # noqa: E402
from fxsim.cli import main  # noqa: E402


def _sample_tasks():
    """The first two quick tasks of every study (they draw random numbers)."""
    tasks = []
    for name in STUDIES:
        tasks += importlib.import_module(f"fxsim.studies.{name}").tasks(True)[:2]
    return tasks


def _same(a, b):
    """Equal results, NaN == NaN, arrays and dicts compared element by element."""
    import numpy as np

    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=np.asarray(a).dtype.kind == "f")
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


def test_local_processes_and_distributed_give_identical_numbers():
    from distributed import LocalCluster

    tasks = _sample_tasks()
    here = run_tasks(tasks, "synchronous", progress=False)
    local = run_tasks(tasks, None, workers=2, progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster:
        remote = run_tasks(tasks, cluster.scheduler_address, progress=False)
    assert len(here) == len(tasks)
    assert _same(here, local) and _same(here, remote)


def _seeded(seed):
    import numpy as np

    return np.random.default_rng(seed).normal(size=3).tolist()


def test_results_keep_task_order_and_progress_counts(capsys):
    import io

    tasks = [Task(_seeded, {"seed": s}, f"s{s}") for s in range(7)]
    assert run_tasks(tasks, "synchronous", progress=False) == [_seeded(s) for s in range(7)]
    stream = io.StringIO()
    bar = Progress(4, "x", stream=stream)
    for i in range(4):
        bar.update(f"t{i}")
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("x [##############################] 4/4")


def test_select_names_the_studies():
    assert select(None) == list(STUDIES)
    assert select("range_bn, integer_bn") == ["range_bn", "integer_bn"]
    with pytest.raises(ValueError, match="unknown study 'rangebn'; the studies are: range_bn"):
        select("rangebn")


def test_fxsim_analyze_writes_report_figures_and_numbers(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["analyze", "--quick", "--only", "integer_bn", "--out", str(out), "--workers", "1"]) == 0
    report = (out / "report.md").read_text()
    assert report.startswith("# fxsim numerical studies") and "--quick" in report
    images = [line.split("](")[1].rstrip(")") for line in report.splitlines() if line.startswith("![")]
    assert images and all((out / name).stat().st_size > 1000 for name in images)
    numbers = json.loads((out / "numbers.json").read_text())
    assert list(numbers) == ["integer_bn"] and numbers["integer_bn"]
    assert main(["analyze", "--only", "nope", "--out", str(out)]) == 2
    assert "unknown study 'nope'" in capsys.readouterr().err
