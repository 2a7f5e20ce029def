"""``mlmc-course doctor``: is this machine ready for the course?"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import tempfile
from pathlib import Path

PACKAGES = (
    "mlmc-course",
    "numpy",
    "scipy",
    "torch",
    "scikit-learn",
    "xgboost-cpu",
    "nflows",
    "POT",
    "vegas",
    "madnis",
    "tensorflow",
    "tensorflow-probability",
    "tf-keras",
    "pythia8mc",
    "fastjet",
    "dask",
    "distributed",
    "matplotlib",
    "jupyterlab",
    "otter-grader",
    "nbval",
    "jupytext",
    "papermill",
)


def _version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def locked_versions(root: Path | None) -> dict[str, str]:
    """Package -> version from ``requirements/lock.txt`` (lower-cased names)."""
    if root is None or not (root / "requirements" / "lock.txt").exists():
        return {}
    out = {}
    for line in (root / "requirements" / "lock.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            out[name.strip().lower().replace("_", "-")] = version.strip()
    return out


def doctor(root: Path | None) -> int:
    """Print versions, hardware, data checksums and cache status; return 1 if something needs fixing."""
    from mlmc_course.data.store import cache_dir, read_manifest, verify

    problems = []
    print(f"Python {platform.python_version()} on {platform.platform()}")
    if platform.python_version_tuple()[:2] != ("3", "11"):
        problems.append("the course is pinned for Python 3.11")
    print(f"course folder: {root or 'not found (run inside the checkout for data and lesson checks)'}")
    lock = locked_versions(root)
    print("\npackages (installed / locked):")
    for name in PACKAGES:
        have, want = _version(name), lock.get(name.lower())
        mark = "ok" if have and (want is None or have.split("+")[0] == want) else "!!"
        if have is None:
            problems.append(f"{name} is not installed")
        elif want and have.split("+")[0] != want:
            problems.append(f"{name} {have} differs from the locked {want}")
        print(f"  {mark} {name:24s} {have or '-':14s} {want or ''}")
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (lessons run on the CPU)"
        print(f"\nCPU cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}, GPU: {gpu}")
    except ImportError:
        problems.append("torch does not import")
    if root is not None:
        entries, bad = read_manifest(root), verify(root)
        print(f"\nshipped data: {len(entries) - len(bad)} of {len(entries)} files match their sha256")
        problems += bad
    cache = cache_dir()
    try:
        with tempfile.NamedTemporaryFile(dir=cache):
            pass
        print(f"cache folder: {cache} (writable)")
        from mlmc_course.data import prepare

        plan = prepare.load_plan()
        ready = sum(prepare.cache_file(s).exists() for s in plan)
        print(
            f"prepared samples: {ready} of {len(plan)} in the cache"
            + (
                ""
                if ready == len(plan)
                else " (lessons 12 and 14 generate the rest on first run, or run `mlmc-course data prepare`)"
            )
        )
    except OSError as err:
        problems.append(f"cache folder {cache} is not writable ({err}); set MLMC_COURSE_CACHE to a writable folder")
    print()
    if problems:
        print("problems:\n  " + "\n  ".join(problems))
        return 1
    print("all good: the course is ready to run")
    return 0
