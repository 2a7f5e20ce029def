from __future__ import annotations

import json

from mlmc_course.cli import main
from mlmc_course.data.store import read_manifest, sha256_file, verify, write_manifest_entry
from mlmc_course.runner import run_lessons
from tests.conftest import ROOT


def test_doctor_and_data_commands(capsys):
    assert main(["--root", str(ROOT), "data", "list"]) == 0
    assert main(["--root", str(ROOT), "data", "verify"]) == 0
    main(["--root", str(ROOT), "doctor"])
    out = capsys.readouterr().out
    assert "torch" in out and "shipped data" in out


def test_build_check_passes_on_a_clean_tree(capsys):
    assert main(["--root", str(ROOT), "build", "--check", "00"]) == 0


def test_unknown_lesson_is_a_clear_error(capsys):
    assert main(["--root", str(ROOT), "build", "--check", "99"]) == 2
    assert "no lesson matches" in capsys.readouterr().err


def test_manifest_detects_a_corrupted_file(tmp_path):
    (tmp_path / "lessons").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    data = tmp_path / "data"
    data.mkdir()
    f = data / "x.bin"
    f.write_bytes(b"abc" * 100)
    entry = write_manifest_entry(f, "test file", "python make.py", root=tmp_path)
    assert entry.sha256 == sha256_file(f) and read_manifest(tmp_path)[0].name == "x.bin"
    assert verify(tmp_path) == []
    f.write_bytes(b"abd" * 100)
    assert "sha256 differs" in verify(tmp_path)[0]
    f.unlink()
    assert "missing" in verify(tmp_path)[0]


def test_run_report_times_a_lesson_and_names_failures(tmp_path):
    report = run_lessons(ROOT, mode="ci", only=["00"], out=tmp_path, keep=tmp_path / "executed")
    assert report.ok and report.runs[0].wall_s > 0 and report.runs[0].peak_rss_mb > 50
    saved = json.loads((tmp_path / "run-ci.json").read_text())
    assert saved["runs"][0]["lesson"] == "00_start"
    assert "| 00_start | ok |" in (tmp_path / "run-ci.md").read_text()
    executed = json.loads((tmp_path / "executed" / "00_start.ipynb").read_text())
    assert any(cell.get("outputs") for cell in executed["cells"] if cell["cell_type"] == "code")


def test_run_report_fails_and_names_a_broken_lesson(tmp_path):
    import nbformat

    (tmp_path / "solutions").mkdir()
    cells = [nbformat.v4.new_code_cell('MODE = "lecture"'), nbformat.v4.new_code_cell("raise ValueError('boom')")]
    cells[0].metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "solutions" / "98_broken.ipynb")
    report = run_lessons(tmp_path, mode="ci", out=tmp_path / "out")
    assert not report.ok and "boom" in report.runs[0].error
    assert "98_broken" in (tmp_path / "out" / "run-ci.md").read_text()


def _tiny_course(tmp_path, *cells_source: str):
    import nbformat

    (tmp_path / "solutions").mkdir()
    cells = [nbformat.v4.new_code_cell('MODE = "lecture"'), *(nbformat.v4.new_code_cell(c) for c in cells_source)]
    cells[0].metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "solutions" / "97_tiny.ipynb")


def test_kept_notebooks_hold_their_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # as under the test command: the runner must still draw inline
    _tiny_course(tmp_path, "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()")
    report = run_lessons(tmp_path, mode="ci", out=tmp_path / "out", keep=tmp_path / "kept")
    assert report.ok, report.runs[0].error
    kept = json.loads((tmp_path / "kept" / "97_tiny.ipynb").read_text())
    outputs = [o for cell in kept["cells"] if cell["cell_type"] == "code" for o in cell.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs), outputs


def test_run_never_replaces_a_committed_report(capsys):
    committed = ROOT / "reports" / "run-lecture.md"
    before = committed.read_bytes()
    code = main(["--root", str(ROOT), "run", "--mode", "lecture", "--out", "reports", "00"])
    assert code == 2 and "committed report" in capsys.readouterr().err
    assert committed.read_bytes() == before


def test_run_writes_its_report_outside_the_tracked_tree(tmp_path):
    import subprocess

    _tiny_course(tmp_path, "print('hello')")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    report = run_lessons(tmp_path, mode="ci")
    assert report.ok and (tmp_path / "_build" / "reports" / "run-ci.md").exists()
