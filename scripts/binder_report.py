"""Write reports/run-cold.md from the work folder of scripts/binder_check.sh, or say whether the check passed.

python scripts/binder_report.py WORK OUT.md "OPTIONS"   # the report
python scripts/binder_report.py --verdict WORK          # exit 1 when a lesson failed, broke a budget or was killed
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

TIME_BUDGET_S, MEMORY_BUDGET_MB = 120.0, 1.5e9 / 2**20  # the lecture budget of mlmc_course.runner, in MiB


def facts(work: Path) -> dict[str, str]:
    out = {}
    for line in (work / "facts.env").read_text().splitlines():
        key, _, value = line.partition("=")
        out[key] = " ".join(shlex.split(value)) if value else ""
    return out


def lessons(work: Path) -> list[dict]:
    rows = []
    for folder in sorted((work / "runs").iterdir()):
        cg = dict(ln.split("=", 1) for ln in (folder / "cgroup").read_text().split())
        report = folder / "run-lecture.json"
        runs = json.loads(report.read_text())["runs"] if report.exists() else []
        requests = (
            [json.loads(ln) for ln in (folder / "requests.jsonl").read_text().splitlines()]
            if (folder / "requests.jsonl").exists()
            else []
        )
        misses = [r for r in requests if not r["cached"]]
        base = {
            "number": folder.name,
            "rc": int(cg.get("rc", 1)),
            "cgroup_peak_mb": int(cg.get("max_usage", 0) or 0) / 2**20,
            "limit_hits": int(cg.get("failcnt", 0) or 0),
            "oom_kills": int(cg.get("oom_kill", 0) or 0),
            "requests": len(requests),
            "generated_events": sum(r["events"] for r in misses),
            "generated_samples": len(misses),
        }
        if not runs:  # the runner itself died (e.g. killed at the memory limit) before writing its report
            tail = (folder / "log").read_text().splitlines()[-1:] if (folder / "log").exists() else [""]
            rows.append(
                {
                    **base,
                    "lesson": folder.name,
                    "ok": False,
                    "wall_s": float("nan"),
                    "peak_rss_mb": 0.0,
                    "error": f"no report (exit {base['rc']}): {tail[0][:80]}",
                }
            )
        for r in runs:
            rows.append({**base, **r})
    return rows


def problems(rows: list[dict], f: dict[str, str]) -> list[str]:
    out = []
    for r in rows:
        if not r["ok"]:
            out.append(f"{r['lesson']}: failed: {r.get('error', '').splitlines()[0][:100] if r.get('error') else ''}")
        if r["wall_s"] > TIME_BUDGET_S:
            out.append(f"{r['lesson']}: {r['wall_s']:.0f} s > {TIME_BUDGET_S:.0f} s")
        if r["peak_rss_mb"] > MEMORY_BUDGET_MB:
            out.append(f"{r['lesson']}: peak {r['peak_rss_mb']:.0f} MiB > {MEMORY_BUDGET_MB:.0f} MiB")
        if r["oom_kills"]:
            out.append(f"{r['lesson']}: {r['oom_kills']} process(es) killed at the memory limit")
        if r["generated_samples"]:
            out.append(f"{r['lesson']}: generated {r['generated_events']} events at run time (not prepared)")
    if f.get("pip_check") != "ok":
        out.append(f"pip check: {f.get('pip_check')}")
    if any(f.get(k, "none") != "none" for k in ("extra", "missing", "version_differs")):
        out.append(
            f"installed set differs from binder/requirements.txt: also installed {f.get('extra')}, missing "
            f"{f.get('missing')}, other versions {f.get('version_differs')}"
        )
    if "0 problem" not in f.get("prepare_line", ""):
        out.append(f"data prepare: {f.get('prepare_line') or 'did not finish'}")
    return out


def gb(n: str | int) -> str:
    return f"{int(n) / 1e9:.2f} GB"


METHODS = {
    "cgroup1": (
        "a cgroup v1 memory controller per lesson (`memory.limit_in_bytes` and `memory.memsw.limit_in_bytes` = "
        "the limit; the machine has no swap). This is how Binder's Kubernetes pods are limited: the kernel counts "
        "every page of the cgroup's processes (the runner, standing in for the Jupyter server, the kernel and its "
        "children, page cache included, which it reclaims before it kills) and the OOM killer ends a process "
        "when reclaim cannot keep the cgroup under the limit. `oom_kill` below is that counter."
    ),
    "cgroup2": (
        "a cgroup v2 memory controller per lesson (`memory.max` = the limit, `memory.swap.max` = 0): as Binder's "
        "Kubernetes pods are limited; `oom_kill` comes from `memory.events`."
    ),
    "prlimit": (
        "`prlimit --as` (address space), because no writable memory cgroup was found. This is NOT faithful: it "
        "limits virtual memory, which PyTorch and TensorFlow reserve far beyond what they use, so a lesson can fail "
        "here that Binder would run; and it limits each process alone, not the kernel and its children together."
    ),
}


def markdown(work: Path, options: str) -> str:
    f = facts(work)
    rows = lessons(work)
    bad = problems(rows, f)
    env, dev = int(f["size_binder"]), int(f.get("size_with_dev") or 0)
    build_s = int(f["requirements_s"]) + int(f["postbuild_s"])
    largest = ", ".join(
        f"{name} {int(size) / 1e9:.2f} GB" for name, size in (x.rsplit(":", 1) for x in f.get("largest", "").split())
    )
    lines = [
        "# Cold start on Binder: environment and first run of every lesson",
        "",
        f"Made by `bash scripts/binder_check.sh{(' ' + options) if options else ''}` at commit {f['commit']}, on "
        f"{f['machine']}; Python {f['python']}, pip {f['pip']}.",
        "",
        "## The image",
        "",
        "| step (repo2docker's order) | time [s] | environment size |",
        "|---|---:|---:|",
        f"| `pip install --no-cache-dir -r binder/requirements.txt` | {f['requirements_s']} | "
        f"{gb(f['size_requirements'])} |",
        f"| `binder/postBuild` (package, JupyterLab settings, `mlmc-course data prepare`) | {f['postbuild_s']} | "
        f"{gb(env)} |",
        f"| total | {build_s} | {gb(env)} |",
        "",
        f"- `pip check`: {f['pip_check']}; {f['installed_count']} packages installed; not in binder/requirements.txt: "
        f"{f['extra']}; missing: {f['missing']}; other versions: {f['version_differs']}.",
        f"- {f.get('prepare_head', '')}; {f.get('prepare_line', '')}. Samples in the cache after the build: "
        f"{gb(f['cache_after_build'])}.",
        f"- Largest packages: {largest}.",
        f"- The same environment with the development tools (`.[dev]`: pytest, pytest-xdist, nbval, ruff, "
        f"playwright and what they need): {gb(dev)}; leaving them out saves {gb(dev - env)}"
        + (
            " (Playwright itself stays: otter-grader, which the notebooks' checks use, requires nbconvert[webpdf], "
            "which requires it)."
            if dev
            else "."
        ),
        "- The times are this machine's, installing from a local package mirror; a Binder build downloads the "
        "same wheels and then writes the image, so it takes longer.",
        "",
        "## First run of each lesson (lecture mode, cache holding only what postBuild made)",
        "",
        f"Memory limit {f['memory_mb']} MB by {METHODS[f['limit_method']]}"
        + (f" Check that the limit bites: {f['limit_probe']}." if f.get("limit_probe") else ""),
        "",
        "Peak memory is `mlmc-course run`'s: the largest summed resident set of the kernel and its children, sampled "
        "every 50 ms (the budget is 1.5 GB = 1431 MiB). cgroup peak is the cgroup's `max_usage` (runner, kernel, "
        "children and the page cache they bring in; shared libraries already cached by an earlier process stay "
        "charged to that process's cgroup, so this is lower than a fresh container would count). "
        "Generated at run time: Pythia events the lesson made because they were not in "
        "the cache (0 when postBuild prepared them).",
        "",
        "| lesson | status | wall time [s] | peak memory [MiB] | cgroup peak [MiB] | OOM kills | generated at run "
        "time [events] | within 120 s and 1.5 GB |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        within = r["ok"] and r["wall_s"] <= TIME_BUDGET_S and r["peak_rss_mb"] <= MEMORY_BUDGET_MB
        status = "ok" if r["ok"] else "ERROR"
        lines.append(
            f"| {r['lesson']} | {status} | {r['wall_s']:.1f} | {r['peak_rss_mb']:.0f} | {r['cgroup_peak_mb']:.0f} | "
            f"{r['oom_kills']} | {r['generated_events']} | {'yes' if within else 'NO'} |"
        )
    total = sum(r["wall_s"] for r in rows if r["wall_s"] == r["wall_s"])
    lines += ["", f"Total wall time: {total:.0f} s for {len(rows)} lessons.", ""]
    lines += ["## Verdict", ""]
    lines += [f"- {p}" for p in bad] or ["All lessons ran, within 120 s and 1.5 GB, none killed, none generating."]
    return "\n".join(lines) + "\n"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    """``name==version`` lines (pip freeze, a requirements file) as normalised name -> version without a local tag."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            out[_normalise(name)] = version.split("+")[0].strip()
    return out


def installed(work: Path, requirements: Path = Path("binder/requirements.txt")) -> dict[str, str]:
    """Compare ``pip freeze`` of this Python with the requirements; append the result to WORK/facts.env."""
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True, text=True, check=True
    ).stdout
    want, have = pins(requirements.read_text()), pins(frozen)
    result = {
        "installed_count": str(len(have)),
        "extra": ",".join(sorted(set(have) - set(want))) or "none",
        "missing": ",".join(sorted(set(want) - set(have))) or "none",
        "version_differs": ",".join(sorted(k for k in set(want) & set(have) if want[k] != have[k])) or "none",
    }
    with open(work / "facts.env", "a") as f:
        f.writelines(f"{k}={shlex.quote(v)}\n" for k, v in result.items())
    return result


def main(argv: list[str]) -> int:
    if argv[:1] == ["--installed"]:
        print(installed(Path(argv[1])))
        return 0
    if argv[:1] == ["--verdict"]:
        work = Path(argv[1])
        bad = problems(lessons(work), facts(work))
        for p in bad:
            print("FAIL", p)
        print("binder_check: " + ("FAILED" if bad else "passed"))
        return 1 if bad else 0
    work, out = Path(argv[0]), Path(argv[1])
    out.write_text(markdown(work, argv[2] if len(argv) > 2 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
