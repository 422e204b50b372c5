"""Control groups for the sandboxes: each one gets a CPU share, a memory limit (tmpfs files included)
and a process limit that the kernel enforces for the whole sandbox, so one submission can neither
starve nor crowd out a classmate graded beside it, or the grader.

Two layouts, one interface. cgroup v1 (the controllers cpu, cpuacct, memory and pids, each mounted
and writable: as root, or delegated) nests each group under the grader's own. cgroup v2 (one
hierarchy, as on most current Linux) only gives controllers to groups that hold no processes of their
own: where the grader (as root) is alone in its group (a service of its own, say), it moves into a
leaf there and its groups go beside it, inside whatever limits that group has; else, as
root, each group goes directly under the top of the hierarchy, whose cpu, memory and pids
controllers it turns on if they are off (systemd turns them on already) and leaves on. v1 is used
where it is complete, else v2; where neither can be had, `unavailable()` says why and the grader
falls back to per-process limits and says so in its report.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import secrets
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("cpu", "cpuacct", "memory", "pids")  # v1: a hierarchy each
V2_CONTROLLERS = ("cpu", "memory", "pids")  # v2: one hierarchy, where cpu also counts the CPU time used
PERIOD_US = 100_000  # the CPU quota's accounting period
PREFIX = "ffnn-lab-"  # every group is named PREFIX + RUN + "-" + a label: see sweep()
# this grader: its PID, which another may reuse or share in another container, and a random token
RUN = f"{os.getpid()}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Place:
    """Where new groups go: the parent folder for each controller (in v2 one folder for all)."""

    parents: dict[str, Path]
    v2: bool


def _own_v1() -> dict[str, Path]:
    """Each v1 controller's folder for this process (new groups nest under it)."""
    dirs = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(","):
            if name in CONTROLLERS and (ROOT / name).is_dir():
                dirs[name] = ROOT / name / path.lstrip("/")
    return dirs


def _cgroup2_mount(mountinfo: str) -> Path | None:
    """The mount point of the whole cgroup v2 hierarchy in a /proc/self/mountinfo text, if mounted."""
    found = []
    for line in mountinfo.splitlines():
        fields = line.split(" - ", 1)
        head = fields[0].split()
        if len(fields) == 2 and fields[1].split()[0] == "cgroup2" and len(head) > 4 and head[3] == "/":
            found.append(Path(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), head[4])))
    usual = [p for p in found if p in (ROOT, ROOT / "unified")]  # a bind mount elsewhere is a copy
    return (usual or found)[0] if found else None


def _v2_top() -> Path | None:
    """Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or .../unified beside v1), if it is."""
    return _cgroup2_mount(_read(Path("/proc/self/mountinfo")))


def _v2_own(top: Path) -> Path:
    """This process's own v2 group."""
    lines = _read(Path("/proc/self/cgroup")).splitlines()
    path = next((ln[3:] for ln in lines if ln.startswith("0::")), "/")
    return top / path.lstrip("/")


def _enable(parent: Path) -> None:
    """Give parent's new groups the controllers (OSError where the kernel refuses)."""
    enabled = _read(parent / "cgroup.subtree_control").split()
    wanted = " ".join(f"+{c}" for c in V2_CONTROLLERS if c not in enabled)
    if wanted:
        (parent / "cgroup.subtree_control").write_text(wanted)


WHY_NOT_ENABLED = {  # the kernel's refusals to enable controllers for a group's children
    errno.EBUSY: "it holds processes of its own, as a container's top group does",
    errno.EINVAL: "a real-time process keeps the cpu controller off",
    errno.EROFS: "the hierarchy is mounted read-only, as in a container",
}


def _v2_place() -> Place | str:
    """Where v2 groups go: beside the grader in its own group where the grader is alone there (moved
    into a leaf of its own: v2 gives controllers only to groups without processes), else as root
    directly under the top of the hierarchy; or why neither."""
    top = _v2_top()
    if top is None:
        return "there is no cgroup v2 hierarchy"
    offered = _read(top / "cgroup.controllers").split()
    missing = [c for c in V2_CONTROLLERS if c not in offered]
    if missing:
        return f"the cgroup v2 hierarchy does not offer the controller(s) {', '.join(missing)}"
    if os.geteuid() != 0:  # a delegated scope (systemd Delegate=yes) would do, but is not measured yet
        return "on cgroup v2 the grader makes control groups only as root"
    own = _v2_own(top)
    if _read(own / "cgroup.procs").split() == [str(os.getpid())] and os.access(own, os.W_OK):
        leaf = own / f"{PREFIX}{RUN}-grader"
        try:
            leaf.mkdir()
            (leaf / "cgroup.procs").write_text(str(os.getpid()))
            _enable(own)
            return Place({c: own for c in V2_CONTROLLERS}, v2=True)
        except OSError:  # not delegated after all: back where it was (an empty leaf left is swept)
            with contextlib.suppress(OSError):
                (own / "cgroup.procs").write_text(str(os.getpid()))
                leaf.rmdir()
    try:
        _enable(top)
    except OSError as e:
        why = WHY_NOT_ENABLED.get(e.errno or 0) or e.strerror
        return f"cannot enable the cgroup v2 controllers at the top of the hierarchy: {why}"
    return Place({c: top for c in V2_CONTROLLERS}, v2=True)


def _choose() -> Place | str:
    """v1 where all its controllers are mounted, else v2; or why neither can be had."""
    own = _own_v1()
    if all(c in own for c in CONTROLLERS):
        return Place(own, v2=False)
    place = _v2_place()
    missing = [c for c in CONTROLLERS if c not in own]
    if isinstance(place, str) and len(missing) < len(CONTROLLERS):  # v1 in part: name what it lacks
        return f"the cgroup v1 controller(s) {', '.join(missing)} are not mounted, and {place}"
    return place


_lock = threading.Lock()


def _place() -> Place | str:
    """Where this machine's groups go, checked by making one, or why there are none; asked once."""
    with _lock:  # unsandboxed runs may ask first from several threads at once
        return _checked_place()


@functools.lru_cache(maxsize=1)
def _checked_place() -> Place | str:
    place = _choose()
    if isinstance(place, str):
        return place
    try:
        probe = create("probe", place=place)
    except OSError as e:
        why = f"{e.strerror}: {e.filename}" if e.filename else e.strerror
        return f"cannot create a control group ({why}): run the grader as root, or delegate cgroups"
    probe.remove()
    sweep(place)
    return place


def unavailable() -> str | None:
    """Why the sandboxes cannot have control groups here, or None when they can."""
    place = _place()
    return place if isinstance(place, str) else None


def layout() -> str:
    """The layout the groups use, for the report's header (only when unavailable() is None)."""
    place = _place()
    assert not isinstance(place, str), place
    if not place.v2:
        return "cgroup v1, under the grader's own groups"
    where = next(iter(place.parents.values()))
    return "cgroup v2, at the top of the hierarchy" if where == _v2_top() else f"cgroup v2, under {where}"


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@dataclass
class Group:
    """One sandbox's control group: a folder per controller (in v2 the same folder for all)."""

    dirs: dict[str, Path]
    v2: bool

    def folders(self) -> list[Path]:
        return list(dict.fromkeys(self.dirs.values()))

    def procs_files(self) -> list[bytes]:
        """The files a process writes its PID to in order to join (precomputed: see sandbox.preexec)."""
        return [str(d / "cgroup.procs").encode() for d in self.folders()]

    def _read(self, controller: str, name: str) -> str:
        return _read(self.dirs[controller] / name)

    def usage(self) -> dict:
        """CPU seconds, peak memory, whether the memory limit killed something, processes refused."""
        events = _pairs(self._read("pids", "pids.events"))
        if self.v2:
            usec = _pairs(self._read("cpu", "cpu.stat")).get("usage_usec", "")
            cpu = int(usec) / 1e6 if usec.isdigit() else None
            peak = self._read("memory", "memory.peak").strip()  # Linux 5.19 and later
            oom = _pairs(self._read("memory", "memory.events"))
        else:
            ns = self._read("cpuacct", "cpuacct.usage").strip()
            cpu = int(ns) / 1e9 if ns.isdigit() else None
            peak = self._read("memory", "memory.max_usage_in_bytes").strip()
            oom = _pairs(self._read("memory", "memory.oom_control"))
        return {
            "cpu_seconds": cpu,
            "memory_peak_bytes": int(peak) if peak.isdigit() else None,
            "out_of_memory": int(oom.get("oom_kill", "0")) > 0,
            "processes_refused": int(events.get("max", "0")),
        }

    def pids(self) -> list[int]:
        return [int(p) for p in self._read("pids", "cgroup.procs").split()]

    def kill(self) -> None:
        """SIGKILL every process still in the group (a sandbox's PID namespace normally took them)."""
        at_once = self.dirs["pids"] / "cgroup.kill"  # v2 on Linux 5.14 and later: forks in flight too
        if self.v2 and at_once.exists():
            try:
                at_once.write_text("1")
            except OSError:
                pass
        for _ in range(50):
            alive = self.pids()
            if not alive:
                return
            kill(alive)
            time.sleep(0.05)

    def remove(self) -> bool:
        """Kill what is left and delete the group's folders; False if one could not be deleted."""
        self.kill()
        gone = True
        for d in self.folders():
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # the last processes are still being reaped
                    time.sleep(0.05)
            else:
                gone = False
        return gone


def kill(pids: list[int]) -> None:
    """SIGKILL each of pids that still exists."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _pairs(text: str) -> dict[str, str]:
    """A control file's 'name value' lines as a dict."""
    return dict(line.split(None, 1) for line in text.splitlines() if " " in line)


def create(
    label: str,
    *,
    cpus: float = 1.0,
    memory_bytes: int = 1 << 30,
    processes: int = 64,
    place: Place | None = None,
) -> Group:
    """A new group of this grader's: at most `cpus` cores, `memory_bytes` of memory (no swap beyond
    it where the kernel accounts swap) and `processes` processes and threads."""
    where = place or _place()
    assert not isinstance(where, str), where
    name = f"{PREFIX}{RUN}-{label}"
    group = Group({c: parent / name for c, parent in where.parents.items()}, where.v2)
    made = []
    try:
        for d in group.folders():
            d.mkdir()  # a new group: one left over would carry its old counts into the report
            made.append(d)
    except OSError:
        for d in made:
            d.rmdir()
        raise
    quota = max(1000, int(PERIOD_US * cpus))
    if where.v2:
        settings = [("cpu", "cpu.max", f"{quota} {PERIOD_US}"), ("memory", "memory.max", memory_bytes)]
        swap = "memory.swap.max", 0  # v2 counts swap apart from memory: none at all
    else:
        settings = [("cpu", "cpu.cfs_period_us", PERIOD_US), ("cpu", "cpu.cfs_quota_us", quota)]
        settings += [("memory", "memory.limit_in_bytes", memory_bytes)]
        swap = "memory.memsw.limit_in_bytes", memory_bytes  # v1 counts memory and swap together
    settings.append(("pids", "pids.max", processes))
    if (group.dirs["memory"] / swap[0]).exists():
        settings.append(("memory", *swap))
    try:
        for controller, file, value in settings:
            (group.dirs[controller] / file).write_text(str(value))
    except OSError:
        group.remove()
        raise
    return group


def sweep(place: Place) -> list[Path]:
    """Delete the empty groups left by graders that are gone (stopped by SIGKILL, or a crash), so they
    do not pile up. Nothing is killed: a group that holds processes (the kernel refuses to delete it)
    or is under a minute old (another grader's, in another PID namespace, about to be joined) stays."""
    removed = []
    for parent in dict.fromkeys(place.parents.values()):
        for d in parent.glob(f"{PREFIX}*"):
            match = re.fullmatch(rf"{PREFIX}(\d+)-[0-9a-f]+-.+", d.name)
            if not match or _alive(int(match.group(1))):
                continue
            try:
                if time.time() - d.stat().st_mtime > 60:
                    d.rmdir()
                    removed.append(d)
            except OSError:
                pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
