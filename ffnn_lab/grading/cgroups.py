"""Control groups for the sandboxes: each one gets a CPU share, a memory limit (tmpfs files included)
and a process limit that the kernel enforces for the whole sandbox, so one submission can neither
starve nor crowd out a classmate graded beside it, or the grader.

Uses the cgroup v1 controllers cpu, cpuacct, memory and pids where they are mounted and writable (as
root, or delegated). Where they are not (cgroup v2 only, or no permission), `unavailable()` says why
and the grader falls back to per-process limits and says so in its report.
"""

from __future__ import annotations

import functools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("cpu", "cpuacct", "memory", "pids")
PERIOD_US = 100_000  # the CPU quota's accounting period


def _own_dirs() -> dict[str, Path]:
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


@functools.lru_cache(maxsize=1)
def unavailable() -> str | None:
    """Why the sandboxes cannot have control groups here, or None when they can (asked once)."""
    dirs = _own_dirs()
    missing = [c for c in CONTROLLERS if c not in dirs]
    if missing:
        v2 = (ROOT / "cgroup.controllers").exists()
        return (
            "this machine has cgroup v2 only, which the grader does not drive yet"
            if v2
            else f"the cgroup v1 controller(s) {', '.join(missing)} are not mounted"
        )
    probe = f"ffnn-lab-probe-{os.getpid()}"
    made = []
    try:
        for d in dirs.values():
            (d / probe).mkdir()
            made.append(d / probe)
    except OSError as e:
        return f"cannot create a control group ({e.strerror}): run the grader as root, or delegate cgroups"
    finally:
        for d in made:
            d.rmdir()
    return None


@dataclass
class Group:
    """One sandbox's control group, a folder per controller."""

    dirs: dict[str, Path]

    def procs_files(self) -> list[bytes]:
        """The files a process writes its PID to in order to join (precomputed: see sandbox.preexec)."""
        return [str(d / "cgroup.procs").encode() for d in self.dirs.values()]

    def _read(self, controller: str, name: str) -> str:
        try:
            return (self.dirs[controller] / name).read_text()
        except OSError:
            return ""

    def usage(self) -> dict:
        """CPU seconds, peak memory, whether the memory limit killed something, processes refused."""
        oom = _pairs(self._read("memory", "memory.oom_control"))
        events = _pairs(self._read("pids", "pids.events"))
        cpu_ns = self._read("cpuacct", "cpuacct.usage").strip()
        peak = self._read("memory", "memory.max_usage_in_bytes").strip()
        return {
            "cpu_seconds": int(cpu_ns) / 1e9 if cpu_ns.isdigit() else None,
            "memory_peak_bytes": int(peak) if peak.isdigit() else None,
            "out_of_memory": int(oom.get("oom_kill", "0")) > 0,
            "processes_refused": int(events.get("max", "0")),
        }

    def pids(self) -> list[int]:
        return [int(p) for p in self._read("pids", "cgroup.procs").split()]

    def kill(self) -> None:
        """SIGKILL every process still in the group (a sandbox's PID namespace normally took them)."""
        for _ in range(50):
            alive = self.pids()
            if not alive:
                return
            kill(alive)
            time.sleep(0.05)

    def remove(self) -> None:
        """Kill what is left and delete the group's folders."""
        self.kill()
        for d in self.dirs.values():
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # the last processes are still being reaped
                    time.sleep(0.05)


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


def create(name: str, *, cpus: float, memory_bytes: int, processes: int) -> Group:
    """A new group under this process's own: at most `cpus` cores, `memory_bytes` of memory (no swap
    beyond it where the kernel accounts swap) and `processes` processes and threads."""
    dirs = {c: d / name for c, d in _own_dirs().items()}
    for d in dirs.values():
        d.mkdir(exist_ok=True)
    group = Group(dirs)
    settings = [
        ("cpu", "cpu.cfs_period_us", PERIOD_US),
        ("cpu", "cpu.cfs_quota_us", max(1000, int(PERIOD_US * cpus))),
        ("memory", "memory.limit_in_bytes", memory_bytes),
        ("pids", "pids.max", processes),
    ]
    if (dirs["memory"] / "memory.memsw.limit_in_bytes").exists():
        settings.append(("memory", "memory.memsw.limit_in_bytes", memory_bytes))
    try:
        for controller, name_, value in settings:
            (dirs[controller] / name_).write_text(str(value))
    except OSError:
        group.remove()
        raise
    return group
