"""The sandbox around code the grader does not trust: bubblewrap (bwrap) with a fixed, minimal view.

Inside: the operating system's /usr, Python and this environment, read-only; the paths the caller
binds (read-only); a private, size-limited /tmp and home; no network; its own PID namespace, so
every process started inside dies with it; no capabilities; memory, CPU-time and file-size limits.
Nothing else of the host is visible: not the grader's data, cache or reports, not other submissions.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import ffnn_lab
from ffnn_lab.errors import LabError

HOME = "/home/student"
INSTALL_HINT = (
    "the grader runs student code inside bubblewrap, which is not installed. Install it "
    "(Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: `sudo dnf install bubblewrap`) "
    "and run again, or pass --no-sandbox to grade without isolation (every report line then "
    "says UNSANDBOXED; only for notebooks you trust)"
)
ETC_FILES = [
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "hosts",
    "nsswitch.conf",
    "passwd",
    "group",
]


class SandboxUnavailable(LabError):
    """bubblewrap is missing or cannot create its namespaces here; the message says what to do."""


@dataclass(frozen=True)
class Limits:
    """Per-process limits inside the sandbox: address space, CPU seconds, largest file, tmpfs size."""

    memory_bytes: int = 8 << 30
    cpu_seconds: int = 3600
    file_bytes: int = 1 << 30
    tmpfs_bytes: int = 2 << 30

    @classmethod
    def for_run(cls, timeout: float, jobs: int = 1, memory_gib: float | None = None) -> Limits:
        """Limits for `jobs` sandboxes at once: by default each process may take 8 GiB, or less where
        the machine's memory shared out (two processes per sandbox: runner and kernel) is smaller."""
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        memory = int(memory_gib * (1 << 30)) if memory_gib else min(8 << 30, total // (2 * max(1, jobs)))
        return cls(memory_bytes=memory, cpu_seconds=int(timeout * (os.cpu_count() or 1)) + 60)

    def apply(self) -> None:
        """Set the limits on the calling process (run between fork and exec, inherited by all)."""
        for which, value in (
            (resource.RLIMIT_AS, self.memory_bytes),
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_FSIZE, self.file_bytes),
            (resource.RLIMIT_CORE, 0),
        ):
            resource.setrlimit(which, (value, value))


def _system_binds() -> list[str]:
    """/usr, its merged-/usr symlinks, a few files of /etc, Python and this environment, read-only."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ETC_FILES:
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    package = Path(ffnn_lab.__file__).resolve().parent  # an editable install lives outside the venv
    bound = ["/usr"]
    for path in sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), str(package)}):
        if not any(path == b or path.startswith(b + "/") for b in bound):
            args += ["--ro-bind", path, path]
            bound.append(path)
    for dev in sorted(Path("/dev").glob("nvidia*")):  # a GPU, when the host has one
        args += ["--dev-bind", str(dev), str(dev)]
    return args


def command(argv: list[str], *, ro_binds: dict[str, str], env: dict[str, str], limits: Limits) -> list[str]:
    """bwrap's command line running argv with only ro_binds (host path -> path inside) added to the view."""
    args = [
        "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--hostname",
        "sandbox",
        "--clearenv",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(limits.tmpfs_bytes),
        "--tmpfs",
        "/tmp",
        "--size",
        str(limits.tmpfs_bytes),
        "--tmpfs",
        HOME,
        "--size",
        str(64 << 20),
        "--tmpfs",
        "/dev/shm",
        # after the tmpfs mounts, so that a checkout or environment living under /tmp stays visible
        *_system_binds(),
    ]
    for host, inside in ro_binds.items():
        args += ["--ro-bind", host, inside]
    for key, value in {"HOME": HOME, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", **env}.items():
        args += ["--setenv", key, value]
    return [*args, "--chdir", HOME, "--", *argv]


def options_through_fd(cmd: list[str]) -> tuple[list[str], int | None]:
    """cmd with bwrap's options moved into a pipe (`--args FD`), and that pipe's read end.

    Inside the sandbox, /proc/1/cmdline is bwrap's: passed on the command line, its options would
    show the host paths of everything bound in."""
    if not cmd or cmd[0] != "bwrap":
        return cmd, None
    split = cmd.index("--")
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as w:  # a few KB: fits the pipe's buffer, so this never blocks
        w.write(b"".join(arg.encode() + b"\0" for arg in cmd[1:split]))
    return ["bwrap", "--args", str(read_end), *cmd[split:]], read_end


@functools.lru_cache(maxsize=1)
def check_available() -> None:
    """Raise SandboxUnavailable, saying why and what to do, unless bwrap can start a sandbox here."""
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(INSTALL_HINT)
    probe = command([sys.executable, "-c", "pass"], ro_binds={}, env={}, limits=Limits())
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SandboxUnavailable(f"bubblewrap could not start a sandbox: {e}") from None
    if result.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap is installed but cannot create a sandbox here ({result.stderr.strip()[:300]}). "
            "It needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or root; "
            "or pass --no-sandbox to grade without isolation"
        )
