"""``mlmc-course hub-link``: the nbgitpuller link opens the start lesson of the course's repository."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from mlmc_course.cli import main
from mlmc_course.hub import nbgitpuller_link, origin_url

REPO = "https://github.com/some-org/mlmc-course.git"


def _query(link: str) -> dict[str, str]:
    parsed = urlparse(link)
    assert parsed.path.endswith("/hub/user-redirect/git-pull"), link
    return {k: v[0] for k, v in parse_qs(parsed.query, strict_parsing=True).items()}


def test_link_has_nbgitpullers_parameters():
    link = nbgitpuller_link("https://hub.example.org", REPO)
    assert link.startswith("https://hub.example.org/hub/user-redirect/git-pull?")
    assert _query(link) == {
        "repo": REPO,
        "branch": "main",
        "targetpath": "mlmc-course",  # not "mlmc-course.git", nbgitpuller's default folder for this URL
        "urlpath": "lab/tree/mlmc-course/notebooks/00_start.ipynb",
    }
    assert "://" not in link.split("?", 1)[1]  # the repository URL is percent-encoded


def test_hub_address_forms_give_the_same_link():
    links = {
        nbgitpuller_link(h, REPO)
        for h in ("https://hub.example.org", "https://hub.example.org/", "https://hub.example.org/hub/")
    }
    assert len(links) == 1


def test_options_reach_the_link():
    q = _query(
        nbgitpuller_link("http://h.org/sub", REPO, branch="w1", path="/notebooks/04_taggers.ipynb", app="notebook")
    )
    assert q["branch"] == "w1" and q["urlpath"] == "tree/mlmc-course/notebooks/04_taggers.ipynb"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hub": "hub.example.org"}, "the hub must be an http"),
        ({"repo": "git@github.com:org/mlmc-course.git"}, "ssh"),
        ({"app": "voila"}, "unknown app"),
        ({"branch": "a&b"}, "invalid branch"),
        ({"path": "../secrets"}, "inside the repository"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    args = {"hub": "https://hub.example.org", "repo": REPO, **kwargs}
    with pytest.raises(ValueError, match=message):
        nbgitpuller_link(args.pop("hub"), args.pop("repo"), **args)


def test_origin_remote_in_ssh_form_becomes_https(tmp_path):
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert origin_url(tmp_path) is None
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", "git@github.com:org/c.git"], check=True)
    assert origin_url(tmp_path) == "https://github.com/org/c.git"


def test_cli_prints_the_link(capsys):
    assert main(["hub-link", "https://hub.example.org", "--repo", REPO, "--branch", "dev"]) == 0
    assert _query(capsys.readouterr().out.strip())["branch"] == "dev"
    assert main(["hub-link", "ftp://hub", "--repo", REPO]) == 2
    assert "http(s)" in capsys.readouterr().err
