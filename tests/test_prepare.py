"""``mlmc-course data prepare``: recorded sample requests, made ahead of time and checked by their content sha256."""

from __future__ import annotations

import dataclasses

import pytest

from mlmc_course.cli import main
from mlmc_course.data import prepare as prep
from mlmc_course.data import pythia

N = 150  # events: a fraction of a second of Pythia


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MLMC_COURSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _recorded_plan(tmp_path, monkeypatch) -> tuple[list[prep.PlannedSample], object]:
    """Generate two tiny samples with the request log on, as `data prepare --record` does, and write the plan."""
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv(prep.ENV_LOG, str(log))
    point = pythia.generate({"a_lund": 0.5}, N, seed=3, n_workers=1, progress=False)
    scan = pythia.generate_scan(N, events_per_point=100, seed=3, n_workers=1, progress=False)
    pythia.generate({"a_lund": 0.5}, N, seed=3, n_workers=1, progress=False)  # from the cache now
    monkeypatch.delenv(prep.ENV_LOG)
    requests = prep.read_log(log)
    assert [r["cached"] for r in requests] == [False, False, True]
    assert requests[0]["info"] == point.info and requests[1]["info"] == scan.info
    samples = [
        prep.PlannedSample(
            r["file"], r["info"], ("12_x",) if i == 0 else ("14_y",), r["events"], prep.content_sha256(s)
        )
        for i, (r, s) in enumerate(zip(requests[:2], (point, scan), strict=True))
    ]
    plan = prep.write_plan(samples, tmp_path / "plan.json")
    assert prep.load_plan(plan) == samples
    return samples, plan


def test_uncached_requests_are_not_logged(tmp_path, cache, monkeypatch):
    monkeypatch.setenv(prep.ENV_LOG, str(tmp_path / "log.jsonl"))
    pythia.generate(None, N, seed=2, n_workers=1, progress=False, cache=False)
    assert prep.read_log(tmp_path / "log.jsonl") == []


def test_prepare_makes_the_recorded_files_and_finds_them_again(tmp_path, cache, monkeypatch):
    samples, plan = _recorded_plan(tmp_path, monkeypatch)
    for f in (cache / "pythia").iterdir():
        f.unlink()  # a fresh machine
    lines: list[str] = []
    assert prep.prepare(plan=plan, progress=False, n_workers=1, echo=lines.append) == []
    assert sorted(p.name for p in (cache / "pythia").glob("*.npz")) == sorted(s.file for s in samples)
    assert sum("generating" in ln for ln in lines) == 2
    for s in samples:  # the lessons' requests now hit the cache, with the recorded content
        assert prep.content_sha256(pythia.EventSample.load(pythia.cache_path(s.info))) == s.sha256
    lines.clear()
    assert prep.prepare(plan=plan, progress=False, echo=lines.append) == []
    assert sum("in the cache, sha256 ok" in ln for ln in lines) == 2
    lines.clear()
    assert prep.prepare(["14"], plan=plan, progress=False, echo=lines.append) == []
    assert "1 samples" in lines[0]


def test_a_truncated_or_altered_cache_file_is_regenerated(tmp_path, cache, monkeypatch):
    samples, plan = _recorded_plan(tmp_path, monkeypatch)
    path = pythia.cache_path(samples[0].info)
    path.write_bytes(path.read_bytes()[:1000])
    lines: list[str] = []
    assert prep.prepare(["12"], plan=plan, progress=False, n_workers=1, echo=lines.append) == []
    assert any("unreadable" in ln for ln in lines)
    good = pythia.EventSample.load(path)
    altered = dataclasses.replace(good, p4=good.p4 * 1.001)
    altered.save(path)
    lines.clear()
    assert prep.prepare(["12"], plan=plan, progress=False, n_workers=1, echo=lines.append) == []
    assert any("differs from the plan, regenerating" in ln for ln in lines)
    assert prep.content_sha256(pythia.EventSample.load(path)) == samples[0].sha256


def test_a_sample_that_does_not_reproduce_is_a_failure_and_is_not_left_in_the_cache(tmp_path, cache, monkeypatch):
    samples, _ = _recorded_plan(tmp_path, monkeypatch)
    wrong = [dataclasses.replace(samples[0], sha256="0" * 64)]
    plan = prep.write_plan(wrong, tmp_path / "wrong.json")
    problems = prep.prepare(plan=plan, progress=False, n_workers=1, echo=lambda _: None)
    assert len(problems) == 1 and "differs from the plan's 0000" in problems[0]
    assert not pythia.cache_path(samples[0].info).exists()


def test_a_plan_the_generator_no_longer_matches_is_called_stale(tmp_path, cache, monkeypatch):
    samples, _ = _recorded_plan(tmp_path, monkeypatch)
    monkeypatch.setattr(pythia, "FORMAT_VERSION", pythia.FORMAT_VERSION + 1)
    plan = prep.write_plan(samples[:1], tmp_path / "p.json")
    (problem,) = prep.prepare(plan=plan, progress=False, n_workers=1, echo=lambda _: None)
    assert "stale" in problem and "format" in problem


def test_the_committed_plan_matches_the_installed_generator():
    from importlib.metadata import version

    plan = prep.load_plan()
    assert plan, "mlmc_course/data/prepared.json is empty: run `mlmc-course data prepare --record 12 14`"
    lessons = {s.lessons for s in plan}
    assert {ls[0][:2] for ls in lessons} >= {"12", "14"}
    for s in plan:
        assert pythia.cache_path(s.info).name == s.file
        assert s.info["format"] == pythia.FORMAT_VERSION and s.info["pythia8mc"] == version("pythia8mc")
        assert s.info["n_events"] == s.events and len(s.sha256) == 64
        assert s.info["kind"] in ("point", "scan")
        if s.info["kind"] == "point":
            assert s.info["chunk"] == pythia.CHUNK


def test_cli_prepare_with_nothing_planned_for_the_lessons(capsys, cache):
    assert main(["data", "prepare", "00,01"]) == 0
    assert "0 samples, 0 events" in capsys.readouterr().out


def test_doctor_says_how_many_planned_samples_are_in_the_cache(capsys, cache):
    from tests.conftest import ROOT

    main(["--root", str(ROOT), "doctor"])
    assert f"prepared samples: 0 of {len(prep.load_plan())} in the cache" in capsys.readouterr().out
