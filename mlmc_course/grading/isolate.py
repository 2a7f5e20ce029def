"""Run untrusted code in a sandbox: its own session, user, namespaces, read-only files and resource limits.

On Linux, when the grader runs as root (a lecturer's machine, a container, CI), a sandboxed process gets

* its own session and process group (``setsid``), so that the whole group can be stopped at once;
* a new **network namespace** (``unshare(CLONE_NEWNET)``): no interface but a loopback that is down, so no
  connection leaves the process, not even to ``127.0.0.1`` of the host;
* a new **mount namespace** (``CLONE_NEWNS``, propagation private): empty ``tmpfs`` folders over ``/tmp``,
  ``/var/tmp``, ``/dev/shm`` and ``/run/lock`` (a private scratch of bounded size) and over every folder named
  in ``hide`` (``autograder/``, ``solutions/``, ``lessons/``, other students' submissions); then the whole tree
  is made **read-only** (``mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)``) except those scratch folders;
* a **user of its own**: a random uid/gid without supplementary groups, so that it cannot read files that are
  not world-readable, cannot undo the mounts, and so that ``RLIMIT_NPROC`` counts only its own processes;
  ``kill(-1)`` as that user stops everything it started, even processes that left the process group;
* resource limits (``setrlimit``): CPU seconds, address space, processes, file size, no core files;
* an environment made from scratch (``HOME`` and ``TMPDIR`` in the scratch folder, none of the grader's
  variables) and its scratch folder as working directory.

:func:`probe` finds out which of these the machine allows; :class:`Capabilities` turns what is missing into
warnings (without root: limits, session and a scratch folder only; without Linux namespaces: no network or
file isolation). This file only uses the standard library, because it also runs as the launcher script
(``python -I isolate.py CONFIG``): it applies the isolation to itself and then ``execve``\\ s the worker.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_BIND, MS_REC, MS_PRIVATE = 0x1, 0x1000, 0x4000, 0x40000
SYS_MOUNT_SETATTR = 442  # the same number on every architecture (added after the syscall tables were unified)
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = -100, 0x8000, 0x1
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # the world-writable places of a Linux system
SANDBOX_SCRATCH = "/tmp/scratch"
LAUNCH_FAILED = 121  # exit status of a launcher that could not apply what it was asked to


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use.

    Attributes:
        cpu_s: CPU seconds per graded question (the worker moves the soft ``RLIMIT_CPU`` before each one).
        wall_s: wall-clock seconds per question before the process group is killed (default ``2 cpu_s + 60``).
        setup_s: CPU and wall seconds for the lesson's setup cells (imports), before any question.
        memory_mb: address space of each process (``RLIMIT_AS``), in MiB.
        processes: processes and threads of the sandbox user (``RLIMIT_NPROC``).
        file_mb: largest file it may write (``RLIMIT_FSIZE``); its scratch ``tmpfs`` holds four times this.
    """

    cpu_s: float = 600.0
    wall_s: float | None = None
    setup_s: float = 300.0
    memory_mb: int = 4096
    processes: int = 256
    file_mb: int = 64

    @property
    def question_wall_s(self) -> float:
        return self.wall_s if self.wall_s is not None else 2 * self.cpu_s + 60


@dataclass(frozen=True)
class Capabilities:
    """Which isolation steps this machine allows (see :func:`probe`)."""

    linux: bool
    user: bool  # can switch to a fresh unprivileged uid (needs root)
    net: bool  # new network namespace
    mount: bool  # new mount namespace with tmpfs mounts
    readonly: bool  # recursive read-only remount (mount_setattr, Linux >= 5.12)
    detail: str = ""

    def warnings(self) -> list[str]:
        """One line per missing protection, for the lecturer."""
        out = []
        if not self.linux:
            return ["not Linux: submissions run with a scratch folder only (no limits, network or file isolation)"]
        if not self.user:
            out.append(
                "not root: submissions run as the grader's own user (no process limit, they can read the "
                "grader's files); run the grader as root, e.g. in a container, for full isolation"
            )
        if not self.net:
            out.append("no network namespace: a submission can open network connections")
        if not self.mount:
            out.append("no mount namespace: a submission can read autograder/, solutions/ and other submissions")
        elif not self.readonly:
            out.append("no read-only remount: a submission can write wherever its user may")
        return out


_PROBED: Capabilities | None = None


def probe() -> Capabilities:
    """Find out (once per process) which isolation steps work here, by trying them in a throw-away process."""
    global _PROBED
    if _PROBED is None:
        if not sys.platform.startswith("linux"):
            _PROBED = Capabilities(linux=False, user=False, net=False, mount=False, readonly=False)
        else:
            out = subprocess.run(
                [sys.executable, "-I", __file__, "--probe"], capture_output=True, text=True, timeout=60, env={}
            )
            try:
                _PROBED = Capabilities(linux=True, **json.loads(out.stdout))
            except (ValueError, TypeError):
                _PROBED = Capabilities(True, False, False, False, False, detail=out.stderr[-500:])
    return _PROBED


@dataclass
class Exit:
    """How a sandboxed process ended."""

    returncode: int | None  # exit status, or None when a signal ended it
    signal: int | None
    maxrss_mb: float

    def describe(self) -> str:
        if self.signal is not None:
            try:
                return f"killed by signal {self.signal} ({signal.Signals(self.signal).name})"
            except ValueError:
                return f"killed by signal {self.signal}"
        return f"exit status {self.returncode}"


@dataclass
class Sandbox:
    """A running sandboxed process: read its channel, then :meth:`finish`."""

    proc: subprocess.Popen
    channel: int  # read end of the pipe the worker reports on
    uid: int | None  # the sandbox user (None when the grader could not switch users)
    log: object  # a temporary file with the process's stdout and stderr
    scratch: str | None = None  # the scratch folder when it is not a private tmpfs (removed by finish)
    _exit: Exit | None = None

    def kill(self) -> None:
        """Stop the process group and every process of the sandbox user."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._sweep()

    def _sweep(self) -> None:
        if self.uid is None:
            return
        # kill(-1) signals every process the caller may signal: as the sandbox user, exactly its processes.
        subprocess.run(["kill", "-KILL", "-1"], user=self.uid, group=self.uid, extra_groups=[], capture_output=True)

    def _record(self, status: int, usage) -> None:
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        self._exit = Exit(returncode=code, signal=sig, maxrss_mb=usage.ru_maxrss / 1024)

    def poll(self) -> Exit | None:
        """How the process ended, or None while it runs."""
        if self._exit is None:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid == 0:
                return None
            self._record(status, usage)
        return self._exit

    def finish(self) -> Exit:
        """Wait for the process, stop anything it left behind, close the channel; returns how it ended."""
        if self._exit is None:
            _, status, usage = os.wait4(self.proc.pid, 0)
            self._record(status, usage)
        if self.channel >= 0:
            self._sweep()
            os.close(self.channel)
            self.channel = -1
            if self.scratch:
                shutil.rmtree(self.scratch, ignore_errors=True)
        return self._exit

    def log_tail(self, n: int = 3000) -> str:
        self.log.flush()
        self.log.seek(0, os.SEEK_END)
        size = self.log.tell()
        self.log.seek(max(0, size - n))
        return self.log.read().decode(errors="replace")


def start(
    argv: list[str],
    env: dict[str, str],
    *,
    limits: Limits,
    stdin: bytes,
    hide: list[Path] = (),
    keep: list[Path] = (),
    seed_files: list[tuple[Path, str]] = (),
    caps: Capabilities | None = None,
) -> Sandbox:
    """Start ``argv`` in a sandbox, write ``stdin`` to it, and return the running :class:`Sandbox`.

    Args:
        argv: the program (its ``argv[0]`` a path); ``{channel}`` in an argument becomes the channel's fd.
        env: its whole environment; ``HOME`` and ``TMPDIR`` are set to the scratch folder.
        limits: resource limits (the CPU limit here covers the setup; the worker moves it per question).
        stdin: bytes written to its standard input, which is then closed.
        hide: folders replaced by empty ones inside the sandbox.
        keep: paths that must stay visible even when they lie inside a hidden or scratch folder.
        seed_files: ``(source, name)`` copied into the scratch folder before it starts (e.g. a font cache).
        caps: what to use (default: everything :func:`probe` finds).
    """
    caps = caps or probe()
    read_end, write_end = os.pipe()
    uid = random.randint(200_000, 2**31 - 2) if caps.user else None
    scratch = None
    if not caps.mount:
        scratch = tempfile.mkdtemp(prefix="mlmc-sandbox-")
        if uid is not None:
            os.chown(scratch, uid, uid)
            os.chmod(scratch, 0o700)
    keep_paths = sorted({str(Path(p).resolve()) for p in keep if Path(p).exists()})
    config = {
        "argv": [a.replace("{channel}", str(write_end)) for a in argv],
        "env": env,
        "uid": uid,
        "net": caps.net,
        "mount": caps.mount,
        "readonly": caps.readonly,
        "hide": sorted({str(Path(p).resolve()) for p in hide if Path(p).is_dir()}),
        "keep": keep_paths,
        "scratch": scratch,
        "seed_files": [[str(s), name] for s, name in seed_files if Path(s).is_file()],
        "channel": write_end,
        "limits": asdict(limits),
    }
    log = tempfile.TemporaryFile(prefix="mlmc-sandbox-log-")
    if caps.linux:
        launcher, launch_env = [sys.executable, "-I", __file__, json.dumps(config)], {}
    else:  # no launcher: only a scratch folder and a session of its own
        launcher, launch_env = config["argv"], dict(env, HOME=scratch, TMPDIR=scratch)
    proc = subprocess.Popen(
        launcher,
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=subprocess.STDOUT,
        pass_fds=(write_end,),
        start_new_session=True,
        env=launch_env,
        cwd=scratch,
    )
    os.close(write_end)
    try:
        proc.stdin.write(stdin)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    return Sandbox(proc=proc, channel=read_end, uid=uid, log=log, scratch=scratch)


# ---------------------------------------------------------------------------------------------------------------
# The launcher: runs as ``python -I isolate.py CONFIG`` in the new session, isolates itself, then execs the worker.


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    return libc


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount_tmpfs(libc, path: str, size_mb: int, mode: str = "1777") -> None:
    _check(libc.mount(b"tmpfs", path.encode(), b"tmpfs", 0, f"size={size_mb}m,mode={mode}".encode()), f"tmpfs {path}")


def _mount_attr(libc, path: str, set_flags: int, clear_flags: int, recursive: bool) -> None:
    attr = ctypes.create_string_buffer(set_flags.to_bytes(8, "little") + clear_flags.to_bytes(8, "little") + bytes(16))
    flags = AT_RECURSIVE if recursive else 0
    _check(libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), flags, attr, 32), f"mount_setattr {path}")


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _cover(libc, folder: str, keep: list[str], size_mb: int, mode: str) -> None:
    """Mount an empty tmpfs over ``folder``, binding back the ``keep`` paths that lie inside it."""
    inside = [k for k in keep if _inside(k, folder)]
    if folder in inside:
        return  # the folder itself must stay: leave it alone
    handles = [(k, os.open(k, os.O_PATH)) for k in inside]
    _mount_tmpfs(libc, folder, size_mb, mode)
    for path, fd in handles:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "a").close()
        _check(libc.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, MS_BIND | MS_REC, None), f"bind {path}")
        os.close(fd)


def _isolate(config: dict) -> str:
    """Apply the configured isolation to this process; returns the scratch folder."""
    import resource

    libc = _libc()
    lim = config["limits"]
    seeds = []
    for source, name in config["seed_files"]:  # read before the mounts hide them
        with open(source, "rb") as src:
            seeds.append((name, src.read()))
    flags = (CLONE_NEWNET if config["net"] else 0) | (CLONE_NEWNS if config["mount"] else 0)
    if flags:
        _check(libc.unshare(flags), "unshare")
    scratch = config["scratch"]
    if config["mount"]:
        _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
        covered = []
        for folder in SCRATCH_DIRS:
            if os.path.isdir(folder) and not os.path.islink(folder):
                _cover(libc, folder, config["keep"], 4 * lim["file_mb"], "1777")
                covered.append(folder)
        for folder in config["hide"]:  # sorted: parents first
            under = [c for c in covered if _inside(folder, c)]
            if under and not any(_inside(folder, k) for k in config["keep"]) or not os.path.isdir(folder):
                continue  # already hidden with its parent
            _cover(libc, folder, config["keep"], 1, "0755")
            covered.append(folder)
        if config["readonly"]:
            _mount_attr(libc, "/", MOUNT_ATTR_RDONLY, 0, recursive=True)
            for folder in [*covered, "/dev", "/proc"]:
                if os.path.ismount(folder):
                    _mount_attr(libc, folder, 0, MOUNT_ATTR_RDONLY, recursive=folder in ("/dev", "/proc"))
        scratch = SANDBOX_SCRATCH
        os.makedirs(scratch, mode=0o700, exist_ok=True)
    for name, content in seeds:
        target = os.path.join(scratch, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as dst:
            dst.write(content)
    uid = config["uid"]
    if uid is not None:
        for dirpath, dirnames, filenames in os.walk(scratch):
            for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                os.chown(name, uid, uid)
    cpu = int(lim["setup_s"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 24 * 3600))  # the worker lowers the soft limit per question
    memory = lim["memory_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    size = lim["file_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if uid is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (lim["processes"], lim["processes"]))
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.chdir(scratch)
    return scratch


def _probe() -> dict:
    """Try each isolation step in a child process; report which ones work."""
    result = {"user": False, "net": False, "mount": False, "readonly": False, "detail": ""}
    for name, flag in [("user", 0), ("net", CLONE_NEWNET), ("mount", CLONE_NEWNS), ("readonly", CLONE_NEWNS)]:
        pid = os.fork()
        if pid == 0:
            try:
                libc = _libc()
                if name == "user":
                    os.setgroups([])
                    os.setgid(2**31 - 3)
                    os.setuid(2**31 - 3)
                else:
                    _check(libc.unshare(flag), "unshare")
                if name in ("mount", "readonly"):
                    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "private")
                    _mount_tmpfs(libc, "/tmp", 1)
                if name == "readonly":
                    _mount_attr(libc, "/", MOUNT_ATTR_RDONLY, 0, recursive=True)
                os._exit(0)
            except BaseException:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        result[name] = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    return result


def _main(args: list[str]) -> None:
    if args == ["--probe"]:
        print(json.dumps(_probe()))
        return
    config = json.loads(args[0])
    try:
        scratch = _isolate(config)
    except BaseException as err:
        import traceback

        where = traceback.extract_tb(err.__traceback__)[-1]
        print(f"mlmc-course sandbox: could not isolate the submission: {err!r} (line {where.lineno})", file=sys.stderr)
        os._exit(LAUNCH_FAILED)
    env = dict(config["env"], HOME=scratch, TMPDIR=scratch)
    os.execve(config["argv"][0], config["argv"], env)


if __name__ == "__main__":
    _main(sys.argv[1:])
