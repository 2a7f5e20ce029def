"""The generators on dask.distributed: a killed worker loses and duplicates nothing, runs resume, corrupt cache files
are regenerated with a warning, and ``--scheduler`` / ``$MLMC_COURSE_SCHEDULER`` reach a separately started cluster.

Everything runs on tiny samples (e+e- chunks of 40 events, one jet per class): seconds each, on 1 or 2 workers.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mlmc_course import cluster as C
from mlmc_course.config import ENV_SCHEDULER
from mlmc_course.data import landscape as L
from mlmc_course.data import pythia as P
from mlmc_course.data.store import ChunkStore, CorruptCacheWarning, checksum_path
from tests.conftest import ROOT

SCAN = dict(ranges={"alpha_s": (0.11, 0.15)}, events_per_point=40, seed=6, progress=False)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MLMC_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(ENV_SCHEDULER, raising=False)
    return tmp_path / "cache"


SMALL = 200  # 5 chunks: the resume and corruption tests


@pytest.fixture(scope="module")
def reference():
    """The 12-chunk scan made on one worker, in memory only."""
    return P.generate_scan(480, n_workers=1, cache=False, **SCAN)


@pytest.fixture(scope="module")
def small(reference):
    """The first 5 chunks of the reference: the same events (a scan is the same for any number of events)."""
    return reference.select(np.arange(SMALL))


def _same(a: P.EventSample, b: P.EventSample) -> None:
    assert len(a) == len(b)
    for name in ("p4", "pid", "offsets", "params"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(a.observables["thrust"], b.observables["thrust"])


def _chunk_folder(cache: Path) -> Path:
    (folder,) = (cache / "chunks").iterdir()
    return folder


def test_same_output_with_one_and_two_workers(reference):
    two = P.generate_scan(480, n_workers=2, cache=False, **SCAN)
    _same(reference, two)
    assert len(np.unique(two.param("alpha_s"))) == 12  # 12 chunks, each its own point: the order is kept


def slow_first(k: int) -> dict[str, np.ndarray]:
    time.sleep(0.25 * (4 - k))  # the first chunks finish last
    return {"k": np.array(k)}


def test_results_are_in_task_order_whatever_finishes_first():
    run = C.run_chunks(slow_first, list(range(4)), n_workers=2, progress=False)
    assert [int(r["k"]) for r in run.results] == [0, 1, 2, 3]
    assert run.computed == 4 and run.busy_s >= 0.25 * (4 + 3 + 2 + 1) * 0.9


def test_a_killed_worker_loses_and_duplicates_nothing(reference, cache):
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as lc,
        Client(lc, set_as_default=False) as client,
    ):
        client.wait_for_workers(2)
        pids = client.run(os.getpid)
        killed: dict[str, object] = {}

        def kill_a_busy_worker():
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not killed:
                for address, keys in client.processing().items():
                    if any(str(k).startswith("generate_task-") for k in keys) and address in pids:
                        os.kill(pids[address], signal.SIGKILL)
                        killed.update(address=address, keys=list(keys))
                        return
                time.sleep(0.01)

        thread = threading.Thread(target=kill_a_busy_worker, daemon=True)
        thread.start()
        try:
            sample = P.generate_scan(480, scheduler=lc.scheduler_address, cache=True, **SCAN)
        finally:
            thread.join(timeout=5)
            C.close()
        assert killed, "no worker was busy with a chunk: the test did not kill anything"
        assert killed["address"] not in client.scheduler_info()["workers"]  # that worker process is gone
    _same(reference, sample)
    assert len(sample) == 480 and len(np.unique(sample.param("alpha_s"))) == 12  # every chunk once
    assert not list((cache / "chunks").glob("*/*.npz"))  # chunks deleted once the whole sample was written


def _interrupted_scan(monkeypatch) -> None:
    """A scan whose chunks all finish but whose run dies before the whole sample is written."""

    def crash(self, path, *, verified):
        raise RuntimeError("interrupted before the sample was written")

    with monkeypatch.context() as m:
        m.setattr(P.EventSample, "_write", crash)
        with pytest.raises(RuntimeError, match="interrupted"):
            P.generate_scan(SMALL, n_workers=1, cache=True, **SCAN)


def test_resume_skips_finished_chunks(small, cache, monkeypatch, caplog):
    _interrupted_scan(monkeypatch)
    store = ChunkStore(_chunk_folder(cache))
    assert len(store.names()) == 5
    for name in store.names()[1:3]:  # these two never finished
        store.path(name).unlink()
        checksum_path(store.path(name)).unlink()
    kept = {name: store.path(name).stat().st_mtime_ns for name in store.names()}
    seen = []
    real = ChunkStore.save
    monkeypatch.setattr(ChunkStore, "save", lambda self, name, arrays: seen.append(name) or real(self, name, arrays))
    with caplog.at_level(logging.INFO, logger="mlmc_course.cluster"):
        sample = P.generate_scan(SMALL, n_workers=1, cache=True, **SCAN)
    assert "3 of 5 chunks found on disk" in caplog.text
    assert sorted(seen) == ["chunk000001", "chunk000002"]
    assert set(kept).isdisjoint(seen)
    _same(small, sample)
    again = P.generate_scan(SMALL, n_workers=1, cache=True, **SCAN)  # now the whole sample comes from the cache
    _same(small, again)
    assert len(seen) == 2


def test_a_truncated_or_altered_cached_sample_is_regenerated_with_a_warning(small, cache):
    P.generate_scan(SMALL, n_workers=1, cache=True, **SCAN)
    (path,) = (cache / "pythia").glob("ee_z_*.npz")
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    with pytest.warns(CorruptCacheWarning, match=rf"{path.name} does not match its sha256 record.*regenerated"):
        sample = P.generate_scan(SMALL, n_workers=1, cache=True, **SCAN)  # was BadZipFile: File is not a zip file
    _same(small, sample)
    assert path.stat().st_size == size
    data = bytearray(path.read_bytes())
    data[size // 3] ^= 0xFF  # altered, same size
    path.write_bytes(bytes(data))
    with pytest.warns(CorruptCacheWarning, match=path.name):
        _same(small, P.generate_scan(SMALL, n_workers=1, cache=True, **SCAN))
    # without a record (a cache from before records, or a run stopped between the two renames) a sample is read
    # whole, which checks zip's CRC-32 of every array: an intact one is used and gets its record back ...
    record = checksum_path(path).read_text()
    checksum_path(path).unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptCacheWarning)
        _same(small, P.generate_scan(SMALL, n_workers=1, cache=True, **SCAN))
    assert checksum_path(path).read_text() == record
    # ... and an altered one is not
    checksum_path(path).unlink()
    data = bytearray(path.read_bytes())
    data[size // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(CorruptCacheWarning, match=rf"{path.name} cannot be read \(BadZipFile: Bad CRC-32"):
        _same(small, P.generate_scan(SMALL, n_workers=1, cache=True, **SCAN))


def test_a_truncated_chunk_is_regenerated_with_a_warning(small, cache, monkeypatch):
    _interrupted_scan(monkeypatch)
    store = ChunkStore(_chunk_folder(cache))
    bad = store.path("chunk000003")
    with open(bad, "r+b") as f:
        f.truncate(100)
    with pytest.warns(CorruptCacheWarning, match=rf"chunk {re.escape(str(bad))} does not match.*regenerated"):
        sample = P.generate_scan(SMALL, n_workers=1, cache=True, **SCAN)
    _same(small, sample)


def test_a_truncated_jet_file_names_itself(tmp_path):
    path = tmp_path / "jets.npz"
    path.write_bytes(L.subset_path("val").read_bytes()[:5000])
    with pytest.raises(OSError, match=rf"{path.name} cannot be read as a course jet file.*truncated"):
        L.read_jets(path)


@dataclass(frozen=True)
class Toy:
    k: int
    log: str
    fail: bool = False


def toy_chunk(task: Toy) -> dict[str, np.ndarray]:
    with open(task.log, "a") as f:
        f.write(f"{task.k}\n")
    if task.fail:
        raise ValueError(f"toy chunk {task.k} failed")
    return {"x": np.arange(5) * task.k}


def test_run_chunks_stops_on_an_error_names_the_chunk_and_resumes(tmp_path):
    store = ChunkStore(tmp_path / "chunks")
    log = tmp_path / "log"
    names = [f"toy{k}" for k in range(6)]
    tasks = [Toy(k, str(log), fail=k == 4) for k in range(6)]
    with pytest.raises(ValueError, match="toy chunk 4 failed") as err:
        C.run_chunks(toy_chunk, tasks, names=names, store=store, n_workers=1, progress=False)
    assert "while running chunk 'toy4'" in "\n".join(err.value.__notes__)
    on_disk = set(store.names())
    assert "toy4" not in on_disk
    log.write_text("")
    run = C.run_chunks(
        toy_chunk, [Toy(k, str(log)) for k in range(6)], names=names, store=store, n_workers=1, progress=False
    )
    missing = {k for k in range(6) if f"toy{k}" not in on_disk}
    # a chunk on disk is never run again (a missing one whose result the cluster still holds may not run either)
    assert 4 in missing and {int(k) for k in log.read_text().split()} <= missing
    assert (run.on_disk, run.computed) == (len(on_disk), len(missing))
    assert set(store.names()) == {f"toy{k}" for k in range(6)}
    for k, result in enumerate(run.results):
        np.testing.assert_array_equal(result["x"], np.arange(5) * k)


def test_map_tasks_keeps_the_order_of_its_items(tmp_path):
    out = C.map_tasks(toy_chunk, [Toy(k, str(tmp_path / "log")) for k in (3, 1, 2)], n_workers=1, progress=False)
    assert [int(r["x"][1]) for r in out] == [3, 1, 2]


def test_scheduler_address_and_unreachable_scheduler(monkeypatch):
    monkeypatch.delenv(ENV_SCHEDULER, raising=False)
    assert C.scheduler_address(None) is None
    monkeypatch.setenv(ENV_SCHEDULER, " tcp://10.0.0.1:8786 ")
    assert C.scheduler_address(None) == "tcp://10.0.0.1:8786"
    assert C.scheduler_address("tcp://127.0.0.1:9") == "tcp://127.0.0.1:9"  # the argument wins
    with pytest.raises(ValueError, match="scheduler address"):
        C.scheduler_address("  ")
    monkeypatch.delenv(ENV_SCHEDULER)
    with pytest.raises(ConnectionError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' \(from the"):
        C.get_client("tcp://127.0.0.1:9", timeout=1)


@pytest.fixture
def separate_scheduler(tmp_path):
    """A Dask scheduler and one worker, started as their own processes on localhost, as a lecturer would."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    file = tmp_path / "scheduler.json"
    common = ["--no-dashboard"]
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
         "--scheduler-file", str(file), *common],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert file.exists(), "the scheduler did not start within 60 s"
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(file), "--nthreads", "1",
             "--nworkers", "1", *common],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import json

        address = json.loads(file.read_text())["address"]
        from distributed import Client

        with Client(address, set_as_default=False, timeout=30) as client:
            client.wait_for_workers(1, timeout=60)
            yield address, client
    finally:
        C.close()
        for proc in (worker, scheduler):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)


def _task_counts(client) -> dict[str, int]:
    """Tasks of each kind (key prefix) that this scheduler has seen finish."""

    def counts(dask_scheduler):
        return {name: prefix.state_counts["memory"] for name, prefix in dask_scheduler.task_prefixes.items()}

    return client.run_on_scheduler(counts)


def test_scheduler_option_reaches_a_separately_started_scheduler(separate_scheduler, tmp_path, monkeypatch):
    from mlmc_course.cli import main

    address, client = separate_scheduler
    monkeypatch.setenv("MLMC_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(ENV_SCHEDULER, raising=False)
    seed = L.read_provenance(L.subset_path("train"))["seed"]
    out = tmp_path / "two.npz"
    assert main(["data", "generate", "top", "--n", "1", "--seed", str(seed), "--scheduler", address,
                 "--out", str(out)]) == 0  # fmt: skip
    assert _task_counts(client).get("generate_chunk", 0) == 2  # one top and one QCD chunk, run by that worker
    made = np.load(out)
    shipped = {}
    for split in L.SPLITS:
        with np.load(L.subset_path(split)) as f:
            for label, index, pt in zip(f["labels"], f["gen_index"], f["jet_pt"], strict=True):
                shipped[(int(label), int(index))] = pt
    assert [shipped[(1, 0)], shipped[(0, 0)]] == list(made["jet_pt"])  # the first jets of the shipped subset
    assert checksum_path(out).exists()

    # the environment variable reaches it too
    monkeypatch.setenv(ENV_SCHEDULER, address)
    sample = P.generate(None, 40, seed=1, cache=False, progress=False)
    assert len(sample) == 40 and _task_counts(client).get("generate_task", 0) == 1
