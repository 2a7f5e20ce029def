"""Where data live, and proof that they are what they claim to be.

* Shipped files sit in the checkout's ``data/`` folder, listed in ``data/manifest.json`` with their sha256, size,
  a description and the exact command that made them.
* Generated or downloaded files go to the cache folder: ``$MLMC_COURSE_CACHE`` if set, else
  ``~/.cache/mlmc-course``. Downloaded files are verified against a known sha256 before they are used.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "manifest.json"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The hex sha256 digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def cache_dir(create: bool = True) -> Path:
    """The cache folder for generated and downloaded data (``$MLMC_COURSE_CACHE`` or ``~/.cache/mlmc-course``)."""
    path = Path(os.environ.get("MLMC_COURSE_CACHE") or Path.home() / ".cache" / "mlmc-course")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir(root: Path | None = None) -> Path:
    """The shipped-data folder of the checkout (or of a students' release, which has no lessons/)."""
    from mlmc_course.course import find_root

    return (root or find_root(marker="data")) / "data"


@dataclass(frozen=True)
class DataFile:
    """One entry of the manifest."""

    name: str
    sha256: str
    bytes: int
    description: str
    command: str


def read_manifest(root: Path | None = None) -> list[DataFile]:
    """The shipped files as the manifest lists them (an empty list when nothing is shipped yet)."""
    path = data_dir(root) / MANIFEST
    if not path.exists():
        return []
    raw = json.loads(path.read_text())
    return [DataFile(name=name, **entry) for name, entry in sorted(raw["files"].items())]


def write_manifest_entry(path: Path, description: str, command: str, root: Path | None = None) -> DataFile:
    """Add or update the manifest entry of a shipped file (run once, by the script that makes the file)."""
    folder = data_dir(root)
    rel = path.resolve().relative_to(folder.resolve()).as_posix()
    manifest_path = folder / MANIFEST
    raw = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"files": {}}
    entry = {"sha256": sha256_file(path), "bytes": path.stat().st_size, "description": description, "command": command}
    raw["files"][rel] = entry
    manifest_path.write_text(json.dumps(raw, indent=2, sort_keys=True) + "\n")
    return DataFile(name=rel, **entry)


def verify(root: Path | None = None) -> list[str]:
    """Check every shipped file against the manifest; returns the problems found (empty when all is well)."""
    folder = data_dir(root)
    problems = []
    for entry in read_manifest(root):
        path = folder / entry.name
        if not path.exists():
            problems.append(f"{entry.name}: missing")
        elif path.stat().st_size != entry.bytes:
            problems.append(f"{entry.name}: {path.stat().st_size} bytes, manifest says {entry.bytes}")
        elif sha256_file(path) != entry.sha256:
            problems.append(f"{entry.name}: sha256 differs from the manifest (file changed or corrupt)")
    return problems


def shipped_path(name: str, root: Path | None = None) -> Path:
    """The verified path of a shipped file; raises if it is missing or does not match its checksum."""
    entries = {e.name: e for e in read_manifest(root)}
    if name not in entries:
        raise FileNotFoundError(f"{name!r} is not in data/{MANIFEST}; known files: {sorted(entries)}")
    path = data_dir(root) / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; restore it with `git checkout -- data/{name}`")
    if sha256_file(path) != entries[name].sha256:
        raise OSError(
            f"{path} does not match its sha256 in the manifest; restore it with `git checkout -- data/{name}`"
        )
    return path


def data_command(args) -> int:
    """``mlmc-course data list|verify``."""
    from mlmc_course.course import find_root

    root = find_root(Path(args.root) if getattr(args, "root", None) else None)
    entries = read_manifest(root)
    if args.data_command == "list":
        if not entries:
            print("no shipped data files")
        for e in entries:
            print(f"{e.name:40s} {e.bytes / 1e6:8.2f} MB  {e.description}")
        print(f"cache: {cache_dir()}")
        return 0
    if args.data_command == "verify":
        problems = verify(root)
        for p in problems:
            print("FAIL", p)
        print(f"{len(entries) - len(problems)} of {len(entries)} shipped files verified")
        return 1 if problems else 0
    raise ValueError(f"unknown data command {args.data_command!r}")
