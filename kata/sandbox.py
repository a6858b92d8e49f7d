"""A sandbox for one student's tests: bubblewrap, another user, limits, nothing else visible.

The grader (``python -m kata.grade``) starts each student's pytest *controller* itself, outside
any sandbox; the controller starts its worker, the process that imports the student's code and
runs the tests, through the launcher script this module writes. The launcher

1. sets resource limits (``Limits``: address space, processes, file size, open files),
2. starts Python under bubblewrap (``bwrap``): new PID, network (loopback only), IPC, UTS (and,
   when the grader is not root, user) namespaces; a fresh root that holds only the system's
   programs and libraries, the interpreter and its site-packages, the grading copy of the kata's
   ``tests/`` and ``kata/`` (all read-only) and the run's own folder (writable: the copy of the
   submission, a ``HOME``, a temporary folder); a private ``/tmp``; an environment of a few allowed
   variables; ``--die-with-parent``, so that every process of the sandbox ends when the controller
   does, daemons and double forks included (PID namespace);
3. when the grader runs as root, becomes an unprivileged user of its own inside (``setpriv``,
   no capabilities), one uid per grading slot so that the process limit and a final ``kill``
   concern this run only.

Nothing else of the machine exists inside: not the instructor's repository (``solutions/``), not
the other students' folders, not the gradebook, not the score the controller writes.

bubblewrap is the Debian/Ubuntu/Fedora package ``bubblewrap``. It needs user namespaces, which
the kernels of current distributions allow to unprivileged users (a container may forbid them:
``bwrap --unshare-all --ro-bind / / true`` tells).
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

UID_BASE = 200_000 + 16 * secrets.randbelow(100_000)
"""Grading as root: slot N runs as uid/gid UID_BASE + N, a range drawn per grader process (no
such user needs to exist; two graders on one machine never share a uid, nor kill each other's)."""

ALLOWED_ENV = (
    "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "COLUMNS", "NO_COLOR", "TERM",
    "PYTHONHASHSEED", "PYTHONUTF8", "PYTHONIOENCODING", "TF_CPP_MIN_LOG_LEVEL",
    "TF_ENABLE_ONEDNN_OPTS", "KATA_HANG_GRACE", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
)  # fmt: skip
"""What a student's process may see of the grader's environment (no tokens, no keys)."""

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
    "/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/alternatives", "/etc/fonts",
    "/etc/matplotlibrc", "/etc/ssl/certs",
)  # fmt: skip


@dataclass(frozen=True)
class Limits:
    """Resource limits of one student's sandbox (set with ``ulimit`` before it starts)."""

    memory_mb: int = 6144
    """Address space of each process, MiB (TensorFlow reserves ~2 GiB of it just by loading)."""
    processes: int = 512
    """Processes and threads of the sandbox's user (TensorFlow starts dozens of threads)."""
    file_size_mb: int = 1024
    """The largest file a process may write, MiB."""
    open_files: int = 4096
    """Open file descriptors per process."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def works() -> bool:
    """bubblewrap is installed and may make its namespaces here (a container may forbid them)."""
    bwrap = bwrap_path()
    if bwrap is None:
        return False
    try:
        done = subprocess.run(
            [bwrap, "--unshare-all", "--ro-bind", "/", "/", "true"],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def install_hint() -> str:
    return (
        "bubblewrap (bwrap) is not installed, or may not make its namespaces here: it keeps "
        "each student's code away from the grades, the answer keys and the other students' "
        "files. Install it "
        "(Debian/Ubuntu: `sudo apt-get install bubblewrap`, Fedora: `sudo dnf install "
        "bubblewrap`), or grade without it with --no-sandbox (every row is then marked "
        "'unsandboxed')."
    )


def _python_paths() -> list[Path]:
    """The interpreter, its standard library and every site-packages folder on sys.path."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        value = sysconfig.get_paths().get(key)
        if value:
            paths.add(Path(value))
    for entry in sys.path:
        if entry and ("site-packages" in entry or "dist-packages" in entry):
            paths.add(Path(entry))
    paths.add(Path(os.path.realpath(sys.executable)).parent.parent)
    # keep the outermost folders only
    kept = []
    for path in sorted(p for p in paths if p.exists()):
        if not any(k == path or k in path.parents for k in kept):
            kept.append(path)
    return kept


def environment(work: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The student's environment: a few allowed variables of the grader's, and the run's own."""
    env = {k: os.environ[k] for k in ALLOWED_ENV if k in os.environ}
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
    home = work / "home"
    env.update(
        HOME=str(home),
        TMPDIR=str(work / "tmp"),
        MPLBACKEND="Agg",
        MPLCONFIGDIR=str(home / ".matplotlib"),
        PYTHONDONTWRITEBYTECODE="1",
        SDL_VIDEODRIVER="dummy",
    )
    env.update(extra or {})
    return env


def bwrap_command(
    work: Path,
    readonly: list[Path],
    env: dict[str, str],
    uid: int | None = None,
    bwrap: str = "bwrap",
) -> list[str]:
    """The command that starts a program (appended to it) in a sandbox writable in ``work`` only.

    As root (``uid`` given), bubblewrap sets the sandbox up with root's rights, without a user
    namespace, and ``setpriv`` then becomes ``uid`` with no capabilities left; otherwise a user
    namespace gives the grader's own user no more rights than it has.
    """
    unshare = ["--unshare-all"]
    if uid is not None:
        unshare = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        unshare += ["--unshare-cgroup-try"]
    command = [
        bwrap, *unshare, "--die-with-parent", "--new-session", "--clearenv",
        "--hostname", "kata-sandbox", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
    ]  # fmt: skip
    for path in SYSTEM_PATHS:
        p = Path(path)
        if p.is_symlink():
            command += ["--symlink", os.readlink(p), path]
        elif p.is_dir():
            command += ["--ro-bind", path, path]
    for path in SYSTEM_FILES:
        if Path(path).exists():
            command += ["--ro-bind", path, path]
    binds = [*_python_paths(), *readonly]
    # bubblewrap makes the folders above a bound path private (0700): open them to the user
    above = sorted({a for p in [*binds, work] for a in p.parents if a != Path("/")})
    for folder in above:
        if not any(folder == Path(p) or Path(p) in folder.parents for p in SYSTEM_PATHS):
            command += ["--perms", "0755", "--dir", str(folder)]
    for path in binds:
        command += ["--ro-bind", str(path), str(path)]
    command += ["--bind", str(work), str(work), "--chdir", str(work)]
    for key, value in sorted(env.items()):
        command += ["--setenv", key, value]
    command.append("--")
    if uid is not None:
        command += [
            shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}",
            "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
        ]  # fmt: skip
    return command


def write_launcher(
    path: Path,
    work: Path,
    readonly: list[Path],
    env: dict[str, str],
    limits: Limits,
    uid: int | None,
    python: str = sys.executable,
    stderr: Path | None = None,
    use_bwrap: bool = True,
) -> Path:
    """A script that starts ``python ARGS...`` in the sandbox (for ``popen//python=SCRIPT``).

    ``use_bwrap=False`` (grading as root where bubblewrap cannot run, e.g. in a container that
    forbids namespaces): the same limits and environment, as user ``uid``, without the sandbox.
    """
    bwrap = bwrap_path() or "bwrap"
    lines = [
        "#!/bin/bash",
        "# Written by kata.sandbox: runs one student's test process in a sandbox.",
        f"ulimit -v {limits.memory_mb * 1024}",
        f"ulimit -f {limits.file_size_mb * 1024}",
        f"ulimit -n {limits.open_files}",
        f"ulimit -u {limits.processes}",
    ]
    if stderr is not None:
        lines.append(f"exec 2>>{shlex.quote(str(stderr))}")
    if use_bwrap:
        command = bwrap_command(work, readonly, env, uid, bwrap) + [python]
    else:
        command = ["env", "-i", *(f"{k}={v}" for k, v in sorted(env.items()))]
        command += [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}"]
        command += [f"--regid={uid}", "--clear-groups", "--inh-caps=-all", "--no-new-privs"]
        command += ["--", python]
    lines.append("exec " + " ".join(shlex.quote(c) for c in command) + ' "$@"')
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o755)
    return path


def reachable_by_others(paths: list[Path]) -> bool:
    """Another user can run the interpreter: every folder above these paths is open to all."""
    for path in paths:
        for folder in [path, *path.parents]:
            try:
                if folder.is_dir() and not folder.stat().st_mode & 0o001:
                    return False
            except OSError:
                return False
    return True


def prepare_work(work: Path, uid: int | None) -> None:
    """Give the run's folder (and everything in it) to the sandbox's user."""
    for sub in ("home", "tmp"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    if uid is None:
        return
    for folder, dirs, files in os.walk(work):
        os.chown(folder, uid, uid)
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


BECOME_AND_KILL = """
import os, signal, sys
uid = int(sys.argv[1])
os.setgroups([])
os.setresgid(uid, uid, uid)
os.setresuid(uid, uid, uid)  # no exec after it: a user at its process limit cannot stop this
os.kill(-1, signal.SIGKILL)  # every process this user may signal, but not this one
"""


def kill_user(uid: int) -> None:
    """SIGKILL every process of ``uid`` (the sandbox's own user).

    A short process of the grader's becomes ``uid`` and sends ``kill(-1, SIGKILL)``: the kernel
    signals every process of that user in one walk that no fork can slip past (a walk of
    ``/proc`` can be outrun by a chain of forks, each link exiting as soon as it has forked)."""
    subprocess.run(
        [sys.executable, "-I", "-S", "-c", BECOME_AND_KILL, str(uid)], check=False, timeout=30
    )


def slot_uid(slot: int) -> int | None:
    """The sandbox user of grading slot ``slot``: its own uid as root, else the grader's own."""
    return UID_BASE + slot if os.geteuid() == 0 else None
