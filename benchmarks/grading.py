"""Batch grading: wall and CPU time of grading generated submissions in sandboxes, with the gradebook's statistics.

    python benchmarks/grading.py --n 30 --jobs 2 --lessons 00_start 01_regression 02_classification

writes N submissions (per lesson: one all solutions, one all stubs, the rest a seeded mix of solutions, stubs and
the wrong answers the lesson sources record), grades them as `mlmc-course grade DIR --gradebook` does, checks
every outcome against the plan (a solution passes, a stub or a wrong answer does not), and prints a markdown
report: the load before and after, the wall time, the sandboxes' CPU time and the per-question statistics.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from mlmc_course.grading import isolate
from mlmc_course.grading.batch import collect, format_statistics, grade_batch, rows, statistics, write_gradebook
from mlmc_course.grading.samples import batch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--lessons", nargs="+", default=["00_start", "01_regression", "02_classification"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlmc-grading-bench-") as tmp:
        planned = batch(ROOT, Path(tmp) / "subs", args.lessons, n=args.n, seed=args.seed)
        entries = collect([Path(tmp) / "subs"])
        load_before = os.getloadavg()
        t0, cpu0 = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
        grade_batch(entries, ROOT, jobs=args.jobs, limits=isolate.Limits(cpu_s=300), progress=False)
        wall = time.monotonic() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        load_after = os.getloadavg()
        write_gradebook(entries, Path(tmp) / "grades.csv")
        book = rows(entries)
    by_key = {(r["student"], r["question"]): r for r in book}
    wrong = []
    for p in planned:
        student = f"{p.path.parent.name}/{p.stem}"
        for q, kind in p.expect.items():
            if (by_key[(student, q)]["status"] == "passed") != (kind == "solution"):
                wrong.append(f"{student} {q}: planned {kind}, graded {by_key[(student, q)]['status']}")
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    graded = [e.submission for e in entries if e.submission]
    print(f"# Batch grading: {args.n} generated submissions, {args.jobs} sandboxes at a time\n")
    print(
        f"Command: `python benchmarks/grading.py --n {args.n} --jobs {args.jobs} --lessons {' '.join(args.lessons)}`\n"
    )
    print(f"Machine: {os.cpu_count()} CPU cores; isolation: {isolate.probe()}")
    print(
        f"Load average (1, 5, 15 min) before: {load_before[0]:.1f}, {load_before[1]:.1f}, {load_before[2]:.1f}; "
        f"after: {load_after[0]:.1f}, {load_after[1]:.1f}, {load_after[2]:.1f}\n"
    )
    print(
        "| submissions | gradebook rows | wall [s] | sandbox CPU [s] | CPU per submission [s] | "
        "largest sandbox peak [MB] | outcomes not as planned |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {len(entries)} | {len(book)} | {wall:.0f} | {cpu:.0f} | {cpu / max(len(entries), 1):.1f} | "
        f"{max(s.peak_mb for s in graded):.0f} | {len(wrong)} |"
    )
    print("\nPer-question statistics as `mlmc-course grade` prints them:\n")
    print("```")
    print(format_statistics(statistics(entries)))
    print("```")
    for line in wrong:
        print("NOT AS PLANNED:", line)


if __name__ == "__main__":
    main()
