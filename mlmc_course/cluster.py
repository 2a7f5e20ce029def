"""Scale-out on Dask: the course's sample generators run their chunks as ``dask.distributed`` tasks.

Every generator (top and QCD jets in :mod:`mlmc_course.data.jets`, e+e- events at a parameter point and parameter
scans for DCTR in :mod:`mlmc_course.data.pythia`, which lesson 12's and lesson 14's samples come from) splits its
work into chunks with their own Pythia seeds and hands them to :func:`run_chunks`, the one code path:

* **Where the tasks run.** With no scheduler named, on a ``distributed.LocalCluster`` owned by this module, sized to
  the machine (one single-threaded worker process per usable core; ``n_workers`` sets another size, and 1 runs one
  worker thread in this process). The cluster is started on first use and kept for the next samples of the session.
  With ``scheduler="tcp://host:8786"`` (``--scheduler ADDRESS`` on the command lines) or the environment variable
  ``MLMC_COURSE_SCHEDULER``, on that existing cluster; the argument wins over the variable, and ``n_workers`` is
  then ignored (the cluster has the workers it has). Its workers need the course package and its generators
  installed (``pip install -c requirements/lock.txt -e ".[course]"``).
* **Determinism.** A chunk's result depends only on its task (its seed), never on which worker ran it or when, and
  the results are put together in task order: the output is the same for 1, 2 or 200 workers.
* **Fault tolerance.** A worker that dies (killed, out of memory, its batch job ended) takes its running tasks with
  it; the scheduler gives them to other workers (``distributed.scheduler.allowed-failures``, 3 by default, deaths per
  task before it gives up with ``KilledWorker``). Each task has one result, so nothing is lost or counted twice.
  An exception raised by a chunk itself (bad settings) is not retried: it stops the run, naming the chunk.
* **Resume.** With a :class:`~mlmc_course.data.store.ChunkStore`, every finished chunk is written atomically with
  its sha256 as it arrives; a re-run loads the chunks already on disk and computes only the rest. A chunk file that
  fails its checksum or cannot be read is reported (``CorruptCacheWarning``, naming it) and computed again.
* **Progress.** A tqdm bar counts chunks (those found on disk included) and shows events per second.

A site with a batch system runs the same code on its nodes with dask-jobqueue (not a dependency of the course;
``pip install dask-jobqueue``). For example on Slurm, in a notebook or script on the login node::

    from dask_jobqueue import SLURMCluster
    from mlmc_course.data import jets

    cluster = SLURMCluster(cores=1, processes=1, memory="2GB", walltime="04:00:00", queue="short")
    cluster.scale(jobs=100)  # 100 single-core workers, each its own batch job
    arrays = jets.generate(500_000, seed=2020, scheduler=cluster.scheduler_address)

or export ``MLMC_COURSE_SCHEDULER=<cluster.scheduler_address>`` and run ``mlmc-course data generate top --n 500000``
(HTCondor: ``HTCondorCluster``, PBS: ``PBSCluster``, same calls). The client (where the chunks are written) and
the workers need not share a file system: results travel back to the client.

Other independent runs (the seeds of a benchmark, the closure tests of DCTR) use the same cluster through
:func:`map_tasks` and put the same ``--scheduler`` option on their command line with
:func:`add_scheduler_argument`::

    from mlmc_course.cluster import add_scheduler_argument, map_tasks

    add_scheduler_argument(parser)                     # --scheduler ADDRESS, default $MLMC_COURSE_SCHEDULER
    ...
    results = map_tasks(one_run, seeds, scheduler=args.scheduler, desc="closure runs")  # in the order of seeds

``one_run`` must be a module-level function that the workers can import or that pickles by value (a function of a
script's ``__main__`` does; a lambda that captures big arrays is slow to send), and its result must pickle.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mlmc_course.config import ENV_SCHEDULER
from mlmc_course.validation import positive_int

log = logging.getLogger(__name__)

__all__ = [
    "ChunkRun",
    "add_scheduler_argument",
    "close",
    "default_workers",
    "get_client",
    "map_tasks",
    "run_chunks",
    "scheduler_address",
]

_lock = threading.RLock()
_local: dict[str, Any] = {}  # {"n": int, "cluster": LocalCluster, "client": Client} while one is running
_remote: dict[str, Any] = {}  # address -> Client


def default_workers() -> int:
    """The number of CPU cores this process may use (the size of the default local cluster)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def scheduler_address(scheduler: str | None = None) -> str | None:
    """The scheduler to use: ``scheduler`` if given, else ``$MLMC_COURSE_SCHEDULER``, else ``None`` (local cluster)."""
    if scheduler is None:
        scheduler = os.environ.get(ENV_SCHEDULER) or None
        if scheduler is None:
            return None
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(
            f"a Dask scheduler address must be a string such as 'tcp://127.0.0.1:8786', got {scheduler!r} "
            f"(from the scheduler argument, --scheduler or ${ENV_SCHEDULER})"
        )
    return scheduler.strip()


def add_scheduler_argument(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--scheduler ADDRESS`` to a command line (default: ``$MLMC_COURSE_SCHEDULER``, else a local cluster)."""
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help=f"run the tasks on the Dask cluster of this scheduler, e.g. tcp://host:8786 (default: ${ENV_SCHEDULER} "
        "if set, else a local cluster with one worker per core)",
    )
    return parser


def get_client(scheduler: str | None = None, n_workers: int | None = None, *, timeout: float = 20.0):
    """A ``distributed.Client`` for the cluster the generators use (see the module docstring).

    Args:
        scheduler: address of an existing scheduler; ``None`` falls back to ``$MLMC_COURSE_SCHEDULER``, then to
            this module's local cluster.
        n_workers: size of the local cluster (default: :func:`default_workers`); ignored with a scheduler.
        timeout: seconds to wait for a scheduler to answer.

    Raises:
        ConnectionError: the scheduler cannot be reached (the message says which address and where it came from).
    """
    from distributed import Client, LocalCluster

    address = scheduler_address(scheduler)
    with _lock:
        if address is not None:
            client = _remote.get(address)
            if client is not None and client.status == "running":
                return client
            source = "the scheduler argument (--scheduler)" if scheduler is not None else f"${ENV_SCHEDULER}"
            try:
                client = Client(address, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError) as err:
                raise ConnectionError(
                    f"cannot reach the Dask scheduler at {address!r} (from {source}) within {timeout:g} s: "
                    f"{type(err).__name__}: {err}. Start one (`dask scheduler` and `dask worker ADDRESS` or "
                    f"dask-jobqueue), correct the address, or unset it to use a local cluster"
                ) from err
            _remote[address] = client
            return client
        n = default_workers() if n_workers is None else positive_int(n_workers, "n_workers")
        if _local and _local["n"] == n and _local["client"].status == "running":
            return _local["client"]
        _close_local()
        # One single-threaded worker per core: Pythia and the read-out are Python loops that hold the GIL. One
        # worker runs as a thread of this process (no process to start); more run as processes.
        try:
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=n > 1,
                dashboard_address=":0",
                scheduler_port=0,
                silence_logs=logging.ERROR,
            )
        except RuntimeError as err:
            err.add_note(
                f"could not start a local Dask cluster of {n} worker processes. The workers are started with "
                "'spawn' and import the main script: a script that generates samples must keep its top level under "
                "`if __name__ == '__main__':` (and cannot be read from standard input); or pass n_workers=1, "
                "which runs one worker in this process"
            )
            raise
        _local.update(n=n, cluster=cluster, client=Client(cluster, set_as_default=False))
        return _local["client"]


def _close_local() -> None:
    if _local:
        client, cluster = _local.pop("client"), _local.pop("cluster")
        _local.clear()
        client.close()
        cluster.close()


def close() -> None:
    """Shut down this module's local cluster and disconnect from schedulers (done at exit anyway)."""
    with _lock:
        _close_local()
        for client in _remote.values():
            client.close()
        _remote.clear()


atexit.register(close)


@dataclass
class ChunkRun:
    """What :func:`run_chunks` did.

    Attributes:
        results: one result per task, in task order.
        computed: chunks computed in this run; ``on_disk``: chunks loaded from the store instead.
        units: events (or jets, ...) in the computed chunks.
        wall_s: seconds from the first submission to the last result.
        busy_s: seconds the workers spent computing the chunks (summed over chunks): ``busy_s / units`` is the
            cost per event of one worker, whatever the number of workers.
    """

    results: list
    computed: int
    on_disk: int
    units: int
    wall_s: float
    busy_s: float

    def per_1000(self) -> float:
        """Worker seconds per 1000 units (events, jets) computed; NaN if nothing was computed."""
        return 1000 * self.busy_s / self.units if self.units else float("nan")


def _timed(func: Callable, task: Any) -> tuple[Any, float]:
    """Run ``func(task)`` on a worker; returns the result and the seconds it took there."""
    start = time.perf_counter()
    out = func(task)
    return out, time.perf_counter() - start


def run_chunks(
    func: Callable[[Any], Any],
    tasks: Sequence[Any],
    *,
    names: Sequence[str] | None = None,
    store=None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progress: bool = True,
    desc: str = "chunks",
    unit: str = "event",
    size: Callable[[Any], int] | None = None,
) -> ChunkRun:
    """Run ``func(task)`` for every task on the Dask cluster and return the results in task order.

    Args:
        func: the chunk function (module-level, so that workers can import it); it must not depend on anything
            but its task, so that results do not depend on the workers.
        tasks: the chunks' descriptions (picklable), e.g. dataclasses holding a seed.
        names: a unique name per task, the chunk's file name in ``store`` (default: the task's position).
        store: a :class:`~mlmc_course.data.store.ChunkStore`: chunks found there intact are not computed, computed
            ones are written there as they arrive (their results must be dicts of NumPy arrays). ``None``: keep
            results in memory only.
        scheduler, n_workers: the cluster (see :func:`get_client`).
        progress: show a progress bar (chunks done, ``unit`` per second).
        desc: the bar's label; unit: what :func:`size` counts.
        size: the number of ``unit`` in a task (default: 1 per task).

    Returns:
        A :class:`ChunkRun` whose ``results`` are in task order.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    tasks = list(tasks)
    names = [str(i) for i in range(len(tasks))] if names is None else [str(n) for n in names]
    if len(names) != len(tasks):
        raise ValueError(f"{len(names)} names for {len(tasks)} tasks")
    if len(set(names)) != len(names):
        raise ValueError("the chunk names must be unique")
    size = size or (lambda _task: 1)
    results: list = [None] * len(tasks)
    todo = []
    for i, name in enumerate(names):
        found = store.load(name) if store is not None else None
        if found is None:
            todo.append(i)
        else:
            results[i] = found
    on_disk = len(tasks) - len(todo)
    if store is not None:
        log.info("%s: %d of %d chunks found on disk in %s, %d to compute", desc, on_disk, len(tasks), store.folder,
                 len(todo))  # fmt: skip
    units, busy, start = 0, 0.0, time.perf_counter()
    with tqdm(total=len(tasks), initial=on_disk, desc=desc, unit="chunk", disable=not progress) as bar:
        if todo:
            from dask.base import tokenize

            client = get_client(scheduler, n_workers)
            prefix = getattr(func, "__name__", "chunk").strip("_<>") or "chunk"
            futures = {
                client.submit(_timed, func, tasks[i], key=f"{prefix}-{tokenize(func, tasks[i])}", retries=0): i
                for i in todo
            }
            try:
                for future in as_completed(futures, loop=client.loop):
                    i = futures[future]
                    try:
                        out, seconds = future.result()
                    except Exception as err:
                        err.add_note(f"while running chunk {names[i]!r} ({desc}) with {prefix}({tasks[i]!r})")
                        if type(err).__name__ == "KilledWorker":
                            err.add_note(
                                "the workers running this chunk died repeatedly (out of memory? a batch job's time "
                                "limit?); chunks already finished are kept when a store is used: run again to resume"
                            )
                        raise
                    if store is not None:
                        store.save(names[i], out)
                    results[i] = out
                    future.release()
                    units += size(tasks[i])
                    busy += seconds
                    bar.update(1)
                    bar.set_postfix_str(f"{units / max(time.perf_counter() - start, 1e-9):,.0f} {unit}/s")
            finally:
                pending = [f for f in futures if not f.done()]
                if pending:
                    client.cancel(pending)
    return ChunkRun(results, len(todo), on_disk, units, time.perf_counter() - start, busy)


def map_tasks(
    func: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progress: bool = True,
    desc: str = "tasks",
) -> list:
    """``[func(x) for x in items]`` as independent tasks on the generators' cluster, results in the order of items.

    For a benchmark's independent runs (seeds, closure tests) on the same cluster as the generators; ``scheduler``
    and ``n_workers`` as in :func:`get_client`. Nothing is stored on disk.
    """
    return run_chunks(func, items, scheduler=scheduler, n_workers=n_workers, progress=progress, desc=desc,
                      unit="task").results  # fmt: skip
