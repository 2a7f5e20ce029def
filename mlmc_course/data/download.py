"""Downloads that are cached, resumable and verified, and never leave a file that later passes as valid.

How :func:`download` keeps that promise:

* bytes go to ``<dest>.part``; nothing reads ``.part`` files, and an interrupted or truncated transfer stays
  there, so that the next call resumes it with an HTTP ``Range`` request;
* a finished transfer is checked (its length against ``Content-Length``, its sha256 or md5 against the expected
  value, its content with an optional ``validate`` function) and deleted when any check fails;
* only then is it renamed to ``dest`` (an atomic rename) and its sha256 written next to it (``<dest>.sha256``);
* a cached ``dest`` is used only if it matches the expected checksum, or, when none is known, the sha256 recorded
  at download time; otherwise it is deleted and fetched again.

Nothing here knows any particular data set: :func:`mlmc_course.data.landscape.download_landscape` uses it for the
public top-tagging files.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlmc_course.data.store import sha256_file

CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download failed or produced a file that did not verify; the message says what to do."""


@dataclass(frozen=True)
class Remote:
    """A file to fetch: where from, its name in the cache, and what it must hash to (when known)."""

    url: str
    filename: str
    sha256: str | None = None
    md5: str | None = None


def _hash(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _stamp(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def _part(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _check_hex(value: str | None, name: str, length: int) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not re.fullmatch(rf"[0-9a-f]{{{length}}}", value):
        raise ValueError(f"{name} must be {length} hexadecimal digits, got {value!r}")
    return value


def is_valid(dest: str | Path, sha256: str | None = None, md5: str | None = None) -> bool:
    """Whether ``dest`` exists and matches the expected checksums, or, when none is given, its recorded sha256."""
    dest = Path(dest)
    if not dest.is_file():
        return False
    if sha256 is None and md5 is None:
        stamp = _stamp(dest)
        recorded = stamp.read_text().split() if stamp.is_file() else []
        if not recorded:
            return False
        sha256 = recorded[0]
    if sha256 is not None and sha256_file(dest) != sha256:
        return False
    return md5 is None or _hash(dest, "md5") == md5


def _remove(*paths: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def _fetch(url: str, part: Path, *, timeout: float, progress: bool) -> None:
    """Append the rest of ``url`` to ``part`` (resuming from its size); raise DownloadError on a short transfer."""
    from tqdm.auto import tqdm

    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # our partial file is not a prefix the server knows: start again
            _remove(part)
            return _fetch(url, part, timeout=timeout, progress=progress)
        raise DownloadError(f"the server answered {err.code} {err.reason} for {url}") from err
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(f"could not reach {url}: {err}; check the network and try again") from err
    with response:
        if offset and response.status != 206:  # the server ignored the range: rewrite from the start
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        got = offset
        try:
            with (
                open(part, "ab" if offset else "wb") as f,
                tqdm(total=total, initial=offset, unit="B", unit_scale=True, disable=not progress) as bar,
            ):
                while block := response.read(CHUNK):
                    f.write(block)
                    got += len(block)
                    bar.update(len(block))
        except (http.client.IncompleteRead, OSError) as err:
            raise DownloadError(
                f"the transfer of {url} broke off after {got} bytes ({err}); the partial file {part} is kept, "
                "and running the download again resumes it"
            ) from err
    if total is not None and got < total:
        raise DownloadError(
            f"the transfer of {url} was truncated: {got} of {total} bytes; the partial file {part} is kept, and "
            "running the download again resumes it"
        )
    if total is not None and got > total:
        _remove(part)
        raise DownloadError(f"{url} sent {got} bytes, more than the announced {total}; the file was deleted")
    return None


def download(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    validate: Callable[[Path], object] | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Fetch ``url`` to ``dest`` unless a verified copy is already there; returns ``dest``.

    Args:
        url: an http(s) address.
        dest: where the file should end up.
        sha256, md5: expected hex digests; a download that does not match is deleted.
        validate: called with the downloaded (not yet renamed) file; raising any exception rejects the file.
        timeout: seconds to wait for the server.
        progress: show a tqdm progress bar.

    Raises:
        DownloadError: the transfer failed or was short (the ``.part`` file stays for a resume), or the file failed
            a check (it is deleted).
    """
    dest = Path(dest)
    sha256 = _check_hex(sha256, "sha256", 64)
    md5 = _check_hex(md5, "md5", 32)
    if is_valid(dest, sha256, md5):
        return dest
    if dest.exists():
        warnings.warn(f"{dest} does not match its checksum; fetching it again", stacklevel=2)
    _remove(dest, _stamp(dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part(dest)
    _fetch(url, part, timeout=timeout, progress=progress)
    digest = sha256_file(part)
    if sha256 is not None and digest != sha256:
        _remove(part)
        raise DownloadError(
            f"{url} does not match its sha256: expected {sha256}, got {digest}; the file was deleted. "
            "If the expected value is right, the server sent a corrupt file: try again later."
        )
    if md5 is not None and _hash(part, "md5") != md5:
        _remove(part)
        raise DownloadError(f"{url} does not match its md5 {md5}; the file was deleted")
    if validate is not None:
        try:
            validate(part)
        except Exception as err:  # any failure of the content check rejects the file
            _remove(part)
            raise DownloadError(f"{url} downloaded but is not a valid file ({err}); it was deleted") from err
    os.replace(part, dest)
    tmp_stamp = _stamp(dest).with_suffix(".tmp")
    tmp_stamp.write_text(f"{digest}  {dest.name}\n")
    os.replace(tmp_stamp, _stamp(dest))
    return dest
