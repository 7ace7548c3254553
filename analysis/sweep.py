"""Run a parameter sweep as Dask tasks, locally or on a distributed cluster.

A sweep is a list of :class:`Task`: a module-level function and keyword
arguments (both picklable).  :func:`run_tasks` returns the results in the
order of the list, whatever order the tasks ran in.  Local runs use Dask's
multiprocessing scheduler (one process per core); ``scheduler=ADDRESS``
sends the same tasks to a ``dask.distributed`` scheduler (every worker
needs fxsim and this ``analysis`` package importable).  Tasks draw their
random numbers from seeds in their own arguments, so both give identical
numbers.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Task:
    """One unit of a sweep: ``func(**kwargs)``; ``label`` names it in progress lines."""
    func: Callable[..., Any]
    kwargs: dict = field(default_factory=dict)
    label: str = ""


#: seconds to wait for a distributed scheduler to answer before saying it is unreachable
CONNECT_TIMEOUT = 3.0
#: Dask's default scheduler port
DEFAULT_PORT = 8786


def _host_port(address: str):
    """``(host, port)`` of a ``tcp://``/``tls://`` (or bare ``host:port``)
    scheduler address; ``None`` for other transports (``inproc://``, ...)."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme not in ("tcp", "tls"):
        return None
    rest = rest.split("/")[0]
    if rest.startswith("["):  # [IPv6]:port
        host, _, port = rest[1:].partition("]")
        port = port.lstrip(":")
    elif rest.count(":") == 1:
        host, port = rest.split(":")
    else:
        host, port = rest, ""
    if not host:
        raise ValueError(f"scheduler address {address!r} names no host; give tcp://HOST:PORT")
    try:
        return host, int(port) if port else DEFAULT_PORT
    except ValueError:
        raise ValueError(f"scheduler address {address!r}: port {port!r} is not a number; "
                         "give tcp://HOST:PORT (e.g. tcp://127.0.0.1:8786)") from None


def _unreachable(address: str, reason) -> ConnectionError:
    return ConnectionError(
        f"cannot reach the Dask scheduler at {address} ({reason}); start one there "
        f"(`dask scheduler`, then `dask worker {address}` on each machine) or leave out "
        "--scheduler to run on local processes")


def check_scheduler(scheduler: str | None, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise ``ConnectionError`` within ``timeout`` seconds if nothing listens
    at a ``tcp://``/``tls://`` scheduler address (``dask.distributed`` itself
    would retry for 30 s).  Local schedulers and other transports pass."""
    if scheduler is None or scheduler == "synchronous":
        return
    where = _host_port(scheduler)
    if where is None:
        return
    try:
        with socket.create_connection(where, timeout=timeout):
            pass
    except socket.gaierror as err:
        raise _unreachable(scheduler, f"unknown host {where[0]!r}: {err.strerror}") from None
    except (socket.timeout, TimeoutError):
        raise _unreachable(scheduler, f"no answer within {timeout:g} s") from None
    except OSError as err:
        raise _unreachable(scheduler, err.strerror or err) from None


def _call(func, kwargs):
    return func(**kwargs)


class Progress:
    """A one-line progress bar on stderr (a line per 10% when stderr is not a terminal)."""

    def __init__(self, total: int, title: str = "tasks", stream=None, enabled: bool = True):
        self.total, self.title, self.done = total, title, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._last_decile = -1

    def update(self, label: str = "") -> None:
        self.done += 1
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        width = 30
        filled = width * self.done // self.total
        line = (f"{self.title} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                f"{elapsed:6.1f} s  {label}")
        if self.tty:
            self.stream.write("\r" + line[:110].ljust(110))
            if self.done == self.total:
                self.stream.write("\n")
        else:
            decile = 10 * self.done // self.total
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(line + "\n")
        self.stream.flush()


def run_tasks(tasks: list[Task], scheduler: str | None = None, *, workers: int | None = None,
              progress: bool = True, title: str = "tasks") -> list:
    """Run every task and return their results in list order.

    ``scheduler``: ``None`` for Dask's local multiprocessing scheduler
    (``workers`` processes, default the number of cores; one worker runs
    in this process), ``"synchronous"`` to run in this process one after
    another (for debugging), or the address of a ``dask.distributed``
    scheduler (``tcp://host:8786``; ``inproc://`` addresses of an
    in-process ``LocalCluster`` work too).
    """
    import dask

    bar = Progress(len(tasks), title, enabled=progress)
    if not tasks:
        return []
    if scheduler is None or scheduler == "synchronous":
        from dask.callbacks import Callback

        workers = workers or os.cpu_count() or 1
        labels = {f"task-{i}": t.label for i, t in enumerate(tasks)}
        nodes = [dask.delayed(_call, pure=False)(t.func, t.kwargs, dask_key_name=f"task-{i}")
                 for i, t in enumerate(tasks)]

        def posttask(key, result, dsk, state, worker_id):
            if key in labels:
                bar.update(labels[key])

        local = "synchronous" if scheduler == "synchronous" or workers == 1 else "processes"
        options = {} if local == "synchronous" else {"num_workers": workers}
        with Callback(posttask=posttask):
            return list(dask.compute(*nodes, scheduler=local, **options))

    from distributed import Client, as_completed

    check_scheduler(scheduler)
    try:
        # something listens there; a Dask scheduler answers at once
        client = Client(scheduler, set_as_default=False, timeout=max(10.0, CONNECT_TIMEOUT))
    except (OSError, TimeoutError) as err:
        raise _unreachable(scheduler, f"{type(err).__name__}: {err}") from None
    with client:
        futures = [client.submit(_call, t.func, t.kwargs, key=f"fxsim-task-{i}-{os.getpid()}-{time.time_ns()}",
                                 pure=False)
                   for i, t in enumerate(tasks)]
        label_of = {f.key: t.label for f, t in zip(futures, tasks)}
        for future in as_completed(futures, loop=client.loop):
            bar.update(label_of[future.key])
        return client.gather(futures)
