"""Where data live, and proof that they are what they claim to be.

* Shipped files sit in the checkout's ``data/`` folder, listed in ``data/manifest.json`` with their sha256, size,
  a description and the exact command that made them.
* Generated or downloaded files go to the cache folder: ``$MLMC_COURSE_CACHE`` if set, else
  ``~/.cache/mlmc-course``. Downloaded files are verified against a known sha256 before they are used.
* Generated files and the chunks of a sample being generated (:class:`ChunkStore`) are written atomically with a
  ``<file>.sha256`` record beside them (:func:`write_verified`); :func:`read_verified` uses a file only if it matches
  its record (or, lacking one, reads whole) and can be read, and otherwise warns (:class:`CorruptCacheWarning`,
  naming the file), deletes it and returns ``None`` so that the caller regenerates it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

import numpy as np

T = TypeVar("T")

MANIFEST = "manifest.json"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The hex sha256 digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class CorruptCacheWarning(UserWarning):
    """A cached file failed its sha256 check or could not be read; it was deleted and is being regenerated."""


def checksum_path(path: str | Path) -> Path:
    """The sha256 record written beside ``path`` by :func:`write_verified`: ``<path>.sha256``."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def _replace_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through a temporary file in the same folder, flushed to disk, then renamed over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_verified(path: str | Path, write: Callable[[IO[bytes]], None]) -> str:
    """Write a file atomically and record its sha256 beside it; returns the digest.

    Args:
        path: the file to (re)place.
        write: called with a binary file object open for writing, e.g. ``lambda f: np.savez(f, x=x)``.

    The data file is renamed into place first and its ``.sha256`` record second, so an interrupted write leaves
    either the old pair, or a file without a matching record, which :func:`read_verified` rejects.
    """
    path = Path(path)
    _replace_atomically(path, write)
    digest = sha256_file(path)
    _replace_atomically(checksum_path(path), lambda f: f.write(f"{digest}  {path.name}\n".encode()))
    return digest


def remove_verified(path: str | Path) -> None:
    """Delete a file written by :func:`write_verified` and its sha256 record (missing files are fine)."""
    Path(path).unlink(missing_ok=True)
    checksum_path(path).unlink(missing_ok=True)


def read_verified(path: str | Path, read: Callable[[Path], T], *, what: str = "cached file") -> T | None:
    """Read a file written by :func:`write_verified`, or ``None`` if it is absent or bad.

    A file that does not match its sha256 record (truncated, altered) or that ``read`` cannot read is never used: a
    :class:`CorruptCacheWarning` names it and says why, the file is deleted and ``None`` tells the caller to
    regenerate it. A file without a record (written before records existed, or whose record was not written
    because the run stopped between the two renames) is used only if ``read`` reads it whole (for ``.npz`` files
    that includes zip's CRC-32 check of every array), and its record is written then.
    """
    path = Path(path)
    record = checksum_path(path)
    if not path.exists():
        record.unlink(missing_ok=True)
        return None
    problem = None
    digest = sha256_file(path)
    has_record = record.exists()
    if has_record and record.read_text().split()[:1] != [digest]:
        problem = "does not match its sha256 record: it is truncated or was altered"
    else:
        try:
            value = read(path)
        except Exception as err:  # noqa: BLE001  (any failure to read means the file is unusable)
            problem = f"cannot be read ({type(err).__name__}: {err})"
        else:
            if not has_record and value is not None:
                _replace_atomically(record, lambda f: f.write(f"{digest}  {path.name}\n".encode()))
            return value
    warnings.warn(f"{what} {path} {problem}; it is deleted and regenerated", CorruptCacheWarning, stacklevel=2)
    remove_verified(path)
    return None


def _save_npz(arrays: dict[str, np.ndarray]) -> Callable[[IO[bytes]], None]:
    return lambda f: np.savez(f, **arrays)


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@dataclass(frozen=True)
class ChunkStore:
    """A folder of finished chunks of one sample, each an ``.npz`` written atomically with its sha256.

    The sample generators write every chunk here as soon as it arrives (see :func:`mlmc_course.cluster.run_chunks`),
    so a run that is interrupted resumes with the chunks still to do; a chunk that fails its checksum is reported
    and regenerated.
    """

    folder: Path

    def path(self, name: str) -> Path:
        """The file of chunk ``name``."""
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"a chunk name must be a plain file name, got {name!r}")
        return Path(self.folder) / f"{name}.npz"

    def save(self, name: str, arrays: dict[str, np.ndarray]) -> Path:
        """Write chunk ``name`` (a dict of NumPy arrays) atomically with its sha256 record."""
        if not isinstance(arrays, dict):
            raise TypeError(f"a stored chunk must be a dict of NumPy arrays, got {type(arrays).__name__}")
        path = self.path(name)
        write_verified(path, _save_npz({k: np.asarray(v) for k, v in arrays.items()}))
        return path

    def load(self, name: str) -> dict[str, np.ndarray] | None:
        """Chunk ``name`` if it is on disk and intact, else ``None`` (with a warning if it was there but bad)."""
        return read_verified(self.path(name), _load_npz, what="chunk")

    def names(self) -> list[str]:
        """The chunks on disk (by name, sorted), whether intact or not."""
        if not Path(self.folder).is_dir():
            return []
        return sorted(p.stem for p in Path(self.folder).glob("*.npz") if not p.name.startswith("."))

    def clear(self) -> None:
        """Delete every chunk and the folder (once the whole sample is written elsewhere)."""
        for name in self.names():
            remove_verified(self.path(name))
        folder = Path(self.folder)
        if folder.is_dir():
            for leftover in folder.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)
            try:
                folder.rmdir()
            except OSError:
                pass  # something else lives there: leave it


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
