"""The downloader against a local HTTP server (127.0.0.1 only): caching, resume, checksums, and failures that
leave no file behind that could later pass as valid."""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from mlmc_course.data import download as D
from mlmc_course.data import landscape as L


class _Server(ThreadingHTTPServer):
    """Serves ``files`` by name; ``modes[name]`` is "ok", "truncate" (half the body, then hang up) or "corrupt"."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.modes: dict[str, str] = {}
        self.requests: list[tuple[str, str | None]] = []

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{name}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802  (the http.server API)
        name = self.path.lstrip("/")
        server: _Server = self.server  # type: ignore[assignment]
        server.requests.append((name, self.headers.get("Range")))
        if name not in server.files:
            self.send_error(404, "no such file")
            return
        data = server.files[name]
        mode = server.modes.get(name, "ok")
        if mode == "corrupt":
            data = bytes(b ^ 0x5A if i % 97 == 0 else b for i, b in enumerate(data))
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            if start >= len(data):
                self.send_error(416, "range not satisfiable")
                return
        body = data[start:]
        self.send_response(206 if match else 200)
        if match:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def landscape_file(tmp_path_factory) -> bytes:
    """The bytes of a small file in the public landscape layout (20 jets)."""
    rng = np.random.default_rng(0)
    n, m = 20, 6
    pt = np.sort(rng.exponential(50, (n, m)), axis=1)[:, ::-1].astype(np.float32)
    jets = L.TopJets(
        pt,
        rng.normal(0, 1, (n, m)).astype(np.float32),
        rng.uniform(-3, 3, (n, m)).astype(np.float32),
        np.ones((n, m), bool),
        rng.integers(0, 2, n),
        np.zeros((n, 4), np.float32),
    )
    path = L.write_landscape(tmp_path_factory.mktemp("src") / "test.h5", jets)
    return path.read_bytes()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _no_valid_file(dest) -> bool:
    return not dest.exists() and not D.is_valid(dest)


def test_download_verifies_and_then_uses_the_cache(server, tmp_path, landscape_file):
    server.files["a.h5"] = landscape_file
    dest = tmp_path / "a.h5"
    assert D.download(server.url("a.h5"), dest, sha256=_sha(landscape_file), progress=False) == dest
    assert dest.read_bytes() == landscape_file and D.is_valid(dest)
    assert not (tmp_path / "a.h5.part").exists()
    D.download(server.url("a.h5"), dest, sha256=_sha(landscape_file), progress=False)
    assert len(server.requests) == 1, "a verified cached file must not be fetched again"


def test_truncated_download_fails_then_resumes(server, tmp_path, landscape_file):
    server.files["a.h5"] = landscape_file
    server.modes["a.h5"] = "truncate"
    dest = tmp_path / "a.h5"
    with pytest.raises(D.DownloadError, match="truncated|broke off"):
        D.download(server.url("a.h5"), dest, sha256=_sha(landscape_file), progress=False)
    assert _no_valid_file(dest)
    part = tmp_path / "a.h5.part"
    assert 0 < part.stat().st_size < len(landscape_file)
    server.modes["a.h5"] = "ok"
    D.download(server.url("a.h5"), dest, sha256=_sha(landscape_file), progress=False)
    assert dest.read_bytes() == landscape_file
    assert server.requests[-1] == ("a.h5", f"bytes={len(landscape_file) // 2}-"), "the second call should resume"
    assert not part.exists()


def test_corrupt_file_is_deleted(server, tmp_path, landscape_file):
    server.files["a.h5"] = landscape_file
    server.modes["a.h5"] = "corrupt"
    dest = tmp_path / "a.h5"
    with pytest.raises(D.DownloadError, match="does not match its sha256"):
        D.download(server.url("a.h5"), dest, sha256=_sha(landscape_file), progress=False)
    assert _no_valid_file(dest) and not (tmp_path / "a.h5.part").exists()


def test_wrong_checksum_is_deleted(server, tmp_path, landscape_file):
    server.files["a.h5"] = landscape_file
    dest = tmp_path / "a.h5"
    with pytest.raises(D.DownloadError, match="expected 0{64}"):
        D.download(server.url("a.h5"), dest, sha256="0" * 64, progress=False)
    assert _no_valid_file(dest) and not (tmp_path / "a.h5.part").exists()
    with pytest.raises(D.DownloadError, match="md5"):
        D.download(server.url("a.h5"), dest, md5="f" * 32, progress=False)
    assert _no_valid_file(dest)
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        D.download(server.url("a.h5"), dest, sha256="abc", progress=False)


def test_missing_file_and_refused_connection(server, tmp_path):
    with pytest.raises(D.DownloadError, match="404"):
        D.download(server.url("nothing.h5"), tmp_path / "n.h5", progress=False)
    with pytest.raises(D.DownloadError, match="could not reach"):
        D.download("http://127.0.0.1:9/x.h5", tmp_path / "n.h5", timeout=2, progress=False)
    assert not list(tmp_path.iterdir())


def test_landscape_download_checks_layout_and_records_sha(server, tmp_path, monkeypatch, landscape_file):
    monkeypatch.setenv("MLMC_COURSE_CACHE", str(tmp_path))
    server.files["junk.h5"] = b"\x89HDF\r\n" + bytes(range(256)) * 20
    server.files["test.h5"] = landscape_file
    with pytest.warns(UserWarning, match="no checksum is known"), pytest.raises(D.DownloadError, match="not a valid"):
        L.download_landscape("test", url=server.url("junk.h5"), progress=False)
    assert _no_valid_file(L.landscape_path("test"))
    with pytest.raises(FileNotFoundError, match="download_landscape"):
        L.load_top("test", source="landscape")

    with pytest.warns(UserWarning, match="no checksum is known"):
        path = L.download_landscape("test", url=server.url("test.h5"), progress=False)
    assert (tmp_path / "landscape" / "test.h5.sha256").read_text().split()[0] == _sha(landscape_file)
    jets = L.load_top("test", source="landscape", n=5)
    assert len(jets) == 5 and jets.n_max == 200

    # A cached file that changed afterwards no longer passes, and the next download replaces it.
    path.write_bytes(landscape_file[:-10] + b"0123456789")
    with pytest.raises(FileNotFoundError, match="no verified copy"):
        L.load_top("test", source="landscape")
    with pytest.warns(UserWarning, match="does not match its checksum"):
        L.download_landscape("test", url=server.url("test.h5"), sha256=_sha(landscape_file), progress=False)
    assert path.read_bytes() == landscape_file


def test_resume_restarts_when_the_partial_file_is_too_long(server, tmp_path, landscape_file):
    server.files["a.h5"] = landscape_file
    dest = tmp_path / "a.h5"
    (tmp_path / "a.h5.part").write_bytes(b"x" * (len(landscape_file) + 5))
    D.download(server.url("a.h5"), dest, sha256=_sha(landscape_file), progress=False)
    assert dest.read_bytes() == landscape_file
