"""fxsim's numerical studies: one study per module, run by ``fxsim analyze``.

Each study module has the same three names:

``TITLE``
    The section heading in ``report.md``.
``tasks(quick) -> list[sweep.Task]``
    The study's parameter sweep: independent, deterministic tasks (every
    random draw is seeded from the task's own arguments, never from the
    order tasks run in), so the numbers are the same on any scheduler.
``summarize(results, out_dir, quick) -> report.Section``
    Turns the task results (in the order of ``tasks``) into markdown,
    PNG figures written to ``out_dir`` and a dict of key numbers.

``fxsim.studies.run.run_all`` runs every study's tasks as Dask tasks (on the
local machine, or on a ``dask.distributed`` cluster), then summarizes each
study and writes ``report.md`` and ``numbers.json``.
"""

#: The studies, in report order (module names inside this package).
STUDIES = ("range_bn", "quant_noise", "accumulation", "integer_bn", "training", "tensor_cores")
