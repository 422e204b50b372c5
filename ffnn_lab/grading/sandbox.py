"""The sandbox around code the grader does not trust: bubblewrap (bwrap) with a fixed, minimal view.

Inside: the operating system's /usr, Python and this environment, read-only; the paths and files the
caller hands in; a private, size-limited /tmp and home (the only writable places: / and /dev are
read-only); no network; its own PID namespace, so every process started inside dies with it; no
capabilities; a seccomp filter (seccomp.py) that refuses the kernel's key store, tracing and new user
namespaces. When the grader runs as root, each sandbox runs as an unprivileged user of its own
(SANDBOX_UID + slot), so per-user limits apply and nothing it can touch is root-owned; otherwise it
runs as the grader's own user in a user namespace. Nothing else of the host is visible: not the
grader's data, cache or reports, not other submissions.
"""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import ffnn_lab
from ffnn_lab.errors import LabError

from . import cgroups, seccomp

HOME = "/home/student"
SANDBOX_UID = 61000  # + the job's slot: the host user a sandbox runs as when the grader is root
USERNS_UID = 1000  # the sandbox's user inside a user namespace (the grader's own user outside)
INSTALL_HINT = (
    "the grader runs student code inside bubblewrap, which is not installed. Install it "
    "(Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: `sudo dnf install bubblewrap`) "
    "and run again, or pass --no-sandbox to grade without isolation (every report line then "
    "says UNSANDBOXED; only for notebooks you trust)"
)
MOUNTS = ("--ro-bind", "--bind", "--dev-bind", "--ro-bind-data", "--file", "--symlink")  # SRC DEST
ETC_FILES = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "hosts", "nsswitch.conf"]
# Inside a root grader's sandbox, the first program becomes the sandbox's user, then runs argv.
BECOME = (
    "import ctypes, os, sys; u = int(sys.argv[1]); os.setgroups([]); os.setresgid(u, u, u); "
    "os.setresuid(u, u, u); ctypes.CDLL(None).prctl(38, 1, 0, 0, 0); os.execv(sys.argv[2], sys.argv[2:])"
)  # prctl 38 = PR_SET_NO_NEW_PRIVS: no set-user-ID program can hand privileges back
KEYCTL_JOIN_SESSION_KEYRING, SYS_KEYCTL = 1, 250  # x86-64's keyctl number; elsewhere seccomp covers it


class SandboxUnavailable(LabError):
    """bubblewrap is missing or cannot create its namespaces here; the message says what to do."""


@dataclass(frozen=True)
class Limits:
    """What one sandbox may use. memory_bytes bounds the whole sandbox (its processes and the files
    it writes to /tmp and home) where control groups are available, else each process; cpus is its
    share of the machine's cores (enforced by a control group)."""

    memory_bytes: int = 8 << 30
    cpu_seconds: int = 3600
    cpus: float = float(os.cpu_count() or 1)
    processes: int = 256  # processes and threads
    file_bytes: int = 1 << 30
    tmpfs_bytes: int = 1 << 30  # each of /tmp and home
    shm_bytes: int = 64 << 20

    @classmethod
    def for_run(cls, timeout: float, jobs: int = 1, memory_gib: float | None = None) -> Limits:
        """Limits for `jobs` sandboxes at once: each gets cores / jobs and by default 8 GiB, or less
        where three quarters of the machine's memory shared out is smaller."""
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        memory = int(memory_gib * (1 << 30)) if memory_gib else min(8 << 30, 3 * total // (4 * max(1, jobs)))
        cpus = max(1.0, (os.cpu_count() or 1) / max(1, jobs))
        return cls(memory_bytes=memory, cpus=cpus, cpu_seconds=int(timeout * cpus) + 60)

    @property
    def writable_bytes(self) -> int:
        """All a sandbox can write to files: /tmp, home and /dev/shm (/ and /dev are read-only)."""
        return 2 * self.tmpfs_bytes + self.shm_bytes


@dataclass(frozen=True)
class Sandbox:
    """How this run's sandboxes are built: decided once, reported in the header, the same for all."""

    privileged: bool  # the grader is root: each sandbox becomes an unprivileged user of its own
    seccomp: bytes | None  # the compiled filter; None where libseccomp is missing
    cgroups: str | None  # None when each sandbox gets a control group, else why not
    gpu: bool = False  # the GPU's device files bound in (CUDA inside; see README, GPU)
    bwrap: str = field(default="bwrap")  # its absolute path: the sandbox's environment has no PATH

    @classmethod
    def here(cls, gpu: bool = False) -> Sandbox:
        """The strongest sandbox this machine allows; SandboxUnavailable (saying why) if none."""
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxUnavailable(INSTALL_HINT)
        box = cls(os.geteuid() == 0, seccomp.program(), cgroups.unavailable(), gpu, bwrap)
        box.check()
        return box

    def describe(self, limits: Limits) -> dict[str, str]:
        """The isolation in the report's words."""
        gib = lambda b: f"{b / (1 << 30):.3g} GiB"  # noqa: E731
        return {
            "sandbox": "bubblewrap",
            "sandbox user": (
                f"an unprivileged user per sandbox (uid {SANDBOX_UID}+)"
                if self.privileged
                else "the grader's own user, in a user namespace (run as root for a user per sandbox)"
            ),
            "seccomp": "on (key store, tracing and new namespaces refused)"
            if self.seccomp
            else "off: libseccomp was not found (install libseccomp2)",
            "control groups": (
                f"each sandbox ({cgroups.layout()}): {limits.cpus:g} CPU cores, "
                f"{gib(limits.memory_bytes)} of memory, {limits.processes} processes"
                if self.cgroups is None
                else f"none ({self.cgroups}): limits are per process, and under --jobs one submission "
                "can slow the others"
            ),
            "writable": f"/tmp and home {gib(limits.tmpfs_bytes)} each, /dev/shm {gib(limits.shm_bytes)}; "
            "/ and /dev read-only",
            "GPU": "bound in: CUDA inside the sandbox" if self.gpu else "not bound: training runs on the CPU",
        }

    def command(
        self,
        argv: list[str],
        *,
        slot: int = 0,
        ro_binds: dict[str, str] | None = None,
        files: dict[str, int] | None = None,
        env: dict[str, str] | None = None,
        limits: Limits,
    ) -> tuple[list[str], list[int]]:
        """bwrap's command line running argv, and the file descriptors it must inherit: ro_binds maps
        host paths to paths inside, files maps paths inside to readable fds whose bytes they hold
        (so the host path of a submission never shows inside, not even in /proc/self/mountinfo)."""
        uid = SANDBOX_UID + slot if self.privileged else USERNS_UID
        fds: list[int] = []

        def hand_in(content: bytes) -> str:
            fds.append(memfd(content))
            return str(fds[-1])

        if self.privileged:
            ns = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
            caps = ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            argv = [sys.executable, "-I", "-c", BECOME, str(uid), *argv]
        else:
            ns = ["--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(uid), "--gid", str(uid)]
            caps = ["--cap-drop", "ALL"]
        parts: list[str | list[str]] = [
            self.bwrap,
            *ns,
            *caps,
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
            "--clearenv",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            *["--perms", "1777", "--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp"],
            *["--perms", "0777", "--size", str(limits.tmpfs_bytes), "--tmpfs", HOME],
            *["--perms", "1777", "--size", str(limits.shm_bytes), "--tmpfs", "/dev/shm"],
            # after the tmpfs mounts, so that a checkout or environment living under /tmp stays visible
            *_system_binds(),
            *(["--dev-bind", str(d), str(d)] for d in _gpu_devices() if self.gpu),
            *["--ro-bind-data", hand_in(_passwd(uid).encode()), "/etc/passwd"],
            *["--ro-bind-data", hand_in(f"root:x:0:\nstudent:x:{uid}:\n".encode()), "/etc/group"],
        ]
        args = [a for part in parts for a in (part if isinstance(part, list) else [part])]
        for host, inside in (ro_binds or {}).items():
            args += ["--ro-bind", host, inside]
        for inside, fd in (files or {}).items():
            args += ["--perms", "0444", "--file", str(fd), inside]
            fds.append(fd)
        args += _open_parents(args)
        args += ["--remount-ro", "/", "--remount-ro", "/dev"]
        if self.seccomp:
            args += ["--seccomp", hand_in(self.seccomp)]
        path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
        for key, value in {"HOME": HOME, "USER": "student", "PATH": path, **(env or {})}.items():
            args += ["--setenv", key, value]
        return [*args, "--chdir", HOME, "--", *argv], fds

    def check(self) -> None:
        """Raise SandboxUnavailable, saying why and what to do, unless a sandbox starts here."""
        _check(self)


def memfd(content: bytes) -> int:
    """An anonymous in-memory file holding content, read from its start: how bytes reach a sandbox
    (the submission, the scored images) without a host path. The caller closes it after the start."""
    fd = os.memfd_create("ffnn-lab", 0)  # no MFD_CLOEXEC: bwrap and the sandbox inherit it
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _passwd(uid: int) -> str:
    return f"root:x:0:0:root:/root:/usr/sbin/nologin\nstudent:x:{uid}:{uid}:student:{HOME}:/bin/sh\n"


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
    return args


def _open_parents(args: list[str]) -> list[str]:
    """--chmod 0755 for each folder bubblewrap made on the way to a bind (it makes them 0700 as root,
    which the sandbox's own user could not pass through)."""
    mounts = {"/"} | {args[i + 2] for i, a in enumerate(args) if a in MOUNTS and i + 2 < len(args)}
    mounts |= {args[i + 1] for i, a in enumerate(args) if a in ("--tmpfs", "--proc", "--dev")}
    made = {str(p) for m in mounts for p in Path(m).parents} - mounts
    return [a for folder in sorted(made) for a in ("--chmod", "0755", folder)]


def _gpu_devices() -> list[Path]:
    return sorted(Path("/dev").glob("nvidia*"))


def gpu_present() -> bool:
    """Whether this machine has NVIDIA device files to bind into a sandbox."""
    return bool(_gpu_devices())


_libc = ctypes.CDLL(None, use_errno=True)


def preexec(limits: Limits, group: cgroups.Group | None, privileged: bool, gpu: bool):
    """What runs in the child between fork and exec (precomputed, so it allocates little): join the
    control group, leave the grader's key store for a fresh empty session keyring, set the limits."""
    procs = group.procs_files() if group else []
    rlimits = [
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_CORE, 0),
    ]
    if group is None and not gpu:
        # without a control group, memory is bounded per process; CUDA cannot start under an
        # address-space limit (it reserves far more than it uses), so a GPU sandbox needs the group
        rlimits.append((resource.RLIMIT_AS, limits.memory_bytes))
    if privileged:  # counted per sandbox user; for the grader's own user it would count its desktop too
        rlimits.append((resource.RLIMIT_NPROC, limits.processes))

    def run() -> None:
        pid = str(os.getpid()).encode()
        for path in procs:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)
        _libc.syscall(SYS_KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, None)
        for which, value in rlimits:
            resource.setrlimit(which, (value, value))

    return run


def options_through_fd(cmd: list[str]) -> tuple[list[str], int | None]:
    """cmd with bwrap's options moved into a pipe (`--args FD`), and that pipe's read end.

    Inside the sandbox, /proc/1/cmdline is bwrap's: passed on the command line, its options would
    show the host paths of everything bound in."""
    if not cmd or os.path.basename(cmd[0]) != "bwrap":
        return cmd, None
    split = cmd.index("--")
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as w:  # a few KB: fits the pipe's buffer, so this never blocks
        w.write(b"".join(arg.encode() + b"\0" for arg in cmd[1:split]))
    return [cmd[0], "--args", str(read_end), *cmd[split:]], read_end


@functools.lru_cache(maxsize=4)
def _check(box: Sandbox) -> None:
    cmd, fds = box.command([sys.executable, "-c", "pass"], limits=Limits())
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, pass_fds=fds)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SandboxUnavailable(f"bubblewrap could not start a sandbox: {e}") from None
    finally:
        for fd in fds:
            os.close(fd)
    if result.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap is installed but cannot create a sandbox here ({result.stderr.strip()[:300]}). "
            "It needs root or unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1); "
            "or pass --no-sandbox to grade without isolation"
        )


def check_available() -> None:
    """Raise SandboxUnavailable, saying why and what to do, unless bwrap can start a sandbox here."""
    Sandbox.here()
