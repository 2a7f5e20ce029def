"""``mlmc-course hub-link``: an nbgitpuller link that opens the course on a JupyterHub.

A student who clicks the link logs in to the hub; nbgitpuller (installed on the hub's image) clones the course
repository into their home folder, or, on later clicks, merges the lecturer's new commits without overwriting the
student's edits, and opens the start lesson. The link format is nbgitpuller's:
``<hub>/hub/user-redirect/git-pull?repo=...&branch=...&targetpath=...&urlpath=lab/tree/<targetpath>/<file>``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import quote, urlencode, urlparse

DEFAULT_PATH = "notebooks/00_start.ipynb"
APPS = {"lab": "lab/tree", "notebook": "tree", "classic": "tree"}


def _http_url(url: str, what: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"{what} must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def nbgitpuller_link(
    hub: str,
    repo: str,
    *,
    branch: str = "main",
    path: str = DEFAULT_PATH,
    app: str = "lab",
    targetpath: str | None = None,
) -> str:
    """The nbgitpuller link that clones (or updates) ``repo`` on ``hub`` and opens ``path`` in ``app``.

    Args:
        hub: the hub's address, e.g. ``https://hub.example.org`` (a trailing ``/hub`` or ``/`` is dropped).
        repo: an https clone URL of the course repository (students' servers have no ssh keys).
        branch: the branch to pull.
        path: the file to open, relative to the repository root.
        app: ``lab`` (JupyterLab) or ``notebook``/``classic`` (the classic tree view).
        targetpath: the folder in the student's home (default: the repository's name, without ``.git``).
    """
    hub = _http_url(hub, "the hub")
    if hub.endswith("/hub"):
        hub = hub[: -len("/hub")]
    repo = _http_url(repo, "the repository (nbgitpuller clones over http(s); ssh needs keys students lack)")
    if app not in APPS:
        raise ValueError(f"unknown app {app!r}: use one of {', '.join(APPS)}")
    if not branch or any(c in branch for c in " ?&#"):
        raise ValueError(f"invalid branch name {branch!r}")
    path = path.strip("/")
    if not path or ".." in Path(path).parts:
        raise ValueError(f"path must be a file inside the repository, got {path!r}")
    target = targetpath or repo.split("/")[-1].removesuffix(".git")
    query = {
        "repo": repo,
        "branch": branch,
        "targetpath": target,
        "urlpath": f"{APPS[app]}/{target}/{path}",
    }
    return f"{hub}/hub/user-redirect/git-pull?" + urlencode(query, quote_via=quote, safe="")


def origin_url(root: Path) -> str | None:
    """The checkout's ``origin`` remote as an https URL (``git@host:org/repo.git`` is rewritten), or None."""
    try:
        done = subprocess.run(
            ["git", "remote", "get-url", "origin"], cwd=root, capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    url = done.stdout.strip()
    if done.returncode != 0 or not url:
        return None
    if url.startswith("git@") and ":" in url:
        host, rest = url[len("git@") :].split(":", 1)
        url = f"https://{host}/{rest}"
    return url if urlparse(url).scheme in ("http", "https") else None


def hub_link_command(args, root: Path | None) -> int:
    """``mlmc-course hub-link HUB [--repo URL] [--branch B] [--path FILE] [--app lab]``: print the link."""
    repo = args.repo or (origin_url(root) if root else None)
    if repo is None:
        raise ValueError("no https `origin` remote here: give the course repository's clone URL with --repo")
    print(nbgitpuller_link(args.hub, repo, branch=args.branch, path=args.path, app=args.app))
    return 0
