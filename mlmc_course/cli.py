"""The ``mlmc-course`` command line: doctor, build, run, data, grade, release, hub-link, slides."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _root(args) -> Path:
    from mlmc_course.course import find_root

    return find_root(Path(args.root) if args.root else None)


def cmd_doctor(args) -> int:
    from mlmc_course.doctor import doctor

    return doctor(_root_or_none(args))


def _root_or_none(args) -> Path | None:
    try:
        return _root(args)
    except FileNotFoundError:
        return None


def cmd_build(args) -> int:
    from mlmc_course.grading.build import build_all

    root = _root(args)
    paths = build_all(root, check=args.check, only=args.only or None)
    if args.check:
        if paths:
            print("out of date (run `mlmc-course build`):\n  " + "\n  ".join(paths))
            return 1
        print("all generated notebooks match their sources")
        return 0
    print(f"wrote {len(paths)} files")
    return 0


def cmd_run(args) -> int:
    from mlmc_course.runner import run_lessons

    report = run_lessons(
        _root(args),
        mode=args.mode,
        only=args.only or None,
        out=args.out,
        timeout=args.timeout,
        keep=args.keep,
        overwrite=args.overwrite,
    )
    return 0 if report.ok else 1


def cmd_data(args) -> int:
    if args.data_command == "prepare":
        from mlmc_course.data.prepare import prepare_command

        return prepare_command(args)
    if args.data_command == "generate":
        from mlmc_course.data.jets import generate_command

        return generate_command(args)
    from mlmc_course.data.store import data_command

    return data_command(args)


def cmd_grade(args) -> int:
    from mlmc_course.grading.batch import grade_command

    return grade_command(
        args.paths,
        root=_root_or_none(args),
        mode=args.mode,
        timeout=args.timeout,
        memory=args.memory,
        jobs=args.jobs,
        gradebook=args.gradebook,
        use_screen=not args.no_screen,
    )


def cmd_release(args) -> int:
    from mlmc_course.grading.release import release, twins_markdown

    made = release(_root(args), Path(args.dest), force=args.force)
    print(f"wrote {len(made.files)} files to {made.dest} (no solutions/, autograder/, lessons/ or tests/)")
    print("Exercises whose function the package also holds (a release cannot hide these):")
    print(twins_markdown(made.twins))
    return 0


def cmd_hub_link(args) -> int:
    from mlmc_course.hub import hub_link_command

    return hub_link_command(args, _root_or_none(args))


def cmd_slides(args) -> int:
    from mlmc_course.slides.build import build_decks, make_figures, print_decks

    root, only = _root(args), args.only or None
    if args.run or args.figures_from:
        make_figures(root, only, from_dir=Path(args.figures_from) if args.figures_from else None)
    paths = build_decks(root, only=only, check=args.check)
    if args.check:
        stale = "out of date (run `mlmc-course slides`):\n  " + "\n  ".join(paths)
        print(stale if paths else "all decks are up to date")
        return 1 if paths else 0
    print(f"wrote {len(paths)} files in slides/")
    if args.pdf:
        from mlmc_course.slides.browser import NoBrowser

        try:
            for pdf in print_decks(root, only):
                print(f"wrote {pdf.relative_to(root)}")
        except NoBrowser as err:
            print(f"mlmc-course: cannot print the decks: {err}", file=sys.stderr)
            return 2
    return 0


def make_parser() -> argparse.ArgumentParser:
    from mlmc_course.cluster import add_scheduler_argument

    parser = argparse.ArgumentParser(
        prog="mlmc-course", description="Machine learning for Monte Carlo event generators: the course's tools."
    )
    parser.add_argument("--root", help="the course folder (default: found from the current directory)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("doctor", help="versions, CPU/GPU, data checksums, writable cache")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("build", help="generate notebooks/, solutions/ and autograder/ from lessons/")
    p.add_argument("only", nargs="*", help="lesson numbers or names (default: all)")
    p.add_argument("--check", action="store_true", help="write nothing; fail if a generated file is stale")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("run", help="execute every solution notebook; report wall time and peak memory")
    p.add_argument("only", nargs="*", help="lesson numbers or names (default: all)")
    p.add_argument("--mode", choices=["ci", "lecture", "full"], default="lecture")
    p.add_argument(
        "--out", default=str(Path("_build") / "reports"), help="folder for run-<mode>.md and run-<mode>.json"
    )
    p.add_argument("--overwrite", action="store_true", help="allow replacing a report that git tracks")
    p.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    p.add_argument("--keep", default=None, help="also save the executed notebooks (with outputs) in this folder")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("data", help="list or verify the shipped data, or generate more")
    dsub = p.add_subparsers(dest="data_command", required=True)
    dsub.add_parser("list", help="the datasets, their files and sizes")
    dsub.add_parser("verify", help="check every shipped file against its sha256")
    g = dsub.add_parser("generate", help="generate more data with the real generators (e.g. top jets)")
    g.add_argument("dataset", choices=["top"], help="top: top-tagging jets from Pythia 8 + fastjet")
    g.add_argument("--n", type=int, required=True, help="number of jets per class")
    g.add_argument("--seed", type=int, default=1, help="random seed")
    g.add_argument(
        "--workers", type=int, default=None, help="workers of the local Dask cluster (default: one per core)"
    )
    add_scheduler_argument(g)
    g.add_argument("--out", default=None, help="output file (default: in the cache folder)")
    g = dsub.add_parser(
        "prepare",
        help="generate now, with sha256 checks, the samples lessons would generate on first run (Binder's postBuild)",
    )
    g.add_argument("lessons", nargs="*", help="lesson numbers, e.g. 12 14 or 12,14 (default: every planned sample)")
    g.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    g.add_argument(
        "--record",
        action="store_true",
        help="run the lessons (default 12 14) in lecture mode and rewrite the plan from the samples they request",
    )
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("grade", help="score submissions in a sandbox (hidden tests included); a gradebook")
    p.add_argument("paths", nargs="+", help="submitted .ipynb files or folders of them")
    p.add_argument("--gradebook", help="write one CSV row per student and question here")
    p.add_argument("--jobs", type=int, default=None, help="sandboxes at a time (default: cores, memory allowing)")
    p.add_argument("--mode", choices=["ci", "lecture", "full"], default="ci")
    p.add_argument("--timeout", type=float, default=600, help="CPU seconds allowed per question")
    p.add_argument("--memory", type=int, default=4096, help="MiB of address space per sandbox")
    p.add_argument("--no-screen", action="store_true", help="also run answers the screen flags (for review)")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("release", help="write the students' copy: no solutions/, autograder/ or lessons/")
    p.add_argument("dest", help="an empty folder outside the course folder")
    p.add_argument("--force", action="store_true", help="replace a non-empty folder")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("hub-link", help="an nbgitpuller link that opens the course on a JupyterHub")
    p.add_argument("hub", help="the hub's address, e.g. https://hub.example.org")
    p.add_argument("--repo", help="the course's https clone URL (default: this checkout's origin remote)")
    p.add_argument("--branch", default="main", help="branch to pull (default: main)")
    p.add_argument("--path", default="notebooks/00_start.ipynb", help="file to open (default: the start lesson)")
    p.add_argument("--app", choices=["lab", "notebook", "classic"], default="lab", help="interface (default: lab)")
    p.set_defaults(func=cmd_hub_link)

    p = sub.add_parser("slides", help="build slides/NN_name.html (reveal.js) and slides/index.html from lessons/")
    p.add_argument("only", nargs="*", help="lesson numbers or names (default: all)")
    p.add_argument("--check", action="store_true", help="write nothing; fail if a committed deck is stale")
    p.add_argument("--run", action="store_true", help="first run the lessons in lecture mode for fresh figures")
    p.add_argument("--figures-from", help="take fresh figures from `mlmc-course run --mode lecture --keep DIR`")
    p.add_argument("--pdf", action="store_true", help="also print each deck to _build/slides/NN_name.pdf")
    p.set_defaults(func=cmd_slides)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError) as err:  # includes NotACourseNotebook
        print(f"mlmc-course: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
