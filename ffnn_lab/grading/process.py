"""The grader's one process primitive: run a command under limits and get back its exit status, its
output (capped, and cleaned of terminal codes before it reaches a log) and what it used.

In a sandbox (sandbox.py) and a control group (cgroups.py) when given; with a wall-clock limit; its
whole process tree is killed when it returns, whatever it started.
"""

from __future__ import annotations

import codecs
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import cgroups
from .sandbox import Limits, Sandbox, options_through_fd, preexec

MAX_LOG = 1 << 20  # characters of a submission's output kept in its log; the rest is counted, not kept
# terminal control: CSI (colours, cursor), OSC (titles, hyperlinks) and other escape sequences
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f\ufffd]")  # and bytes that were not UTF-8


def inert(text: str) -> str:
    """text with terminal escape sequences removed and other control characters shown as '?', so a
    log printed in a terminal shows what a submission wrote and cannot drive the terminal."""
    return CONTROL.sub("?", ESCAPES.sub("", text.replace("\r\n", "\n").replace("\r", "\n")))


class Drain(threading.Thread):
    """Read a pipe to its end: keep up to `keep` bytes (as clean text in `sink` if given), count the rest."""

    def __init__(self, fd: int, keep: int, sink: Path | None = None) -> None:
        super().__init__(daemon=True)
        self.fd, self.keep, self.sink = fd, keep, sink
        self.data, self.total = bytearray(), 0

    def run(self) -> None:
        out = self.sink.open("w", encoding="utf-8") if self.sink else None
        decode = codecs.getincrementaldecoder("utf-8")("replace")
        try:
            while chunk := os.read(self.fd, 1 << 16):
                room = self.keep - self.total
                if room > 0:
                    if out:
                        out.write(inert(decode.decode(chunk[:room])))
                    else:
                        self.data.extend(chunk[:room])
                self.total += len(chunk)
        except OSError:
            pass
        finally:
            if out:
                out.close()
            os.close(self.fd)


@dataclass
class Outcome:
    """How a run ended: code is the exit status, None when killed at the time limit."""

    code: int | None
    output: Drain
    usage: dict = field(default_factory=dict)


_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()
stopping = threading.Event()  # set on SIGINT/SIGTERM: no new run starts, running ones are killed


def kill_tree(proc: subprocess.Popen) -> None:
    """Kill proc's whole tree: the sandbox's PID namespace dies with it; unsandboxed, every descendant."""
    victims = [proc.pid, *_descendants(proc.pid)]
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    cgroups.kill(victims)


def kill_all() -> None:
    """Kill every run in progress (the grader is being stopped)."""
    with _running_lock:
        for proc in list(_running):
            kill_tree(proc)


def _descendants(pid: int) -> list[int]:
    """Every process below pid, found through /proc (an unsandboxed kernel runs in a session of its own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Stopped(Exception):
    """The grader was asked to stop before this run started."""


def run(
    argv: list[str],
    *,
    limit: float,
    limits: Limits,
    sandbox: Sandbox | None,
    env: dict[str, str],
    slot: int = 0,
    cwd: str | None = None,
    ro_binds: dict[str, str] | None = None,
    files: dict[str, int] | None = None,
    pass_fds: tuple[int, ...] = (),
    log: Path | None = None,
    group_name: str = "run",
) -> Outcome:
    """Run argv under the limits (in the sandbox when given), killing its tree at `limit` seconds.

    files (sandboxed only) maps paths inside to fds holding their bytes; this closes them. pass_fds
    stay open in the caller."""
    if stopping.is_set():
        raise Stopped
    if sandbox is not None:
        cmd, fds = sandbox.command(argv, slot=slot, ro_binds=ro_binds, files=files, env=env, limits=limits)
        popen_env: dict[str, str] = {}
    else:
        cmd, fds = argv, list((files or {}).values())
        popen_env = {**env, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    can_group = sandbox is None or sandbox.cgroups is None
    group = None
    try:
        if can_group and cgroups.unavailable() is None:
            group = cgroups.create(
                group_name,
                cpus=limits.cpus,
                memory_bytes=limits.memory_bytes,
                processes=limits.processes,
            )
        cmd, options_fd = options_through_fd(cmd)
        fds += [options_fd] if options_fd is not None else []
        privileged, gpu = (sandbox.privileged, sandbox.gpu) if sandbox else (False, False)
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(*pass_fds, *fds),
                env=popen_env,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=preexec(limits, group, privileged, gpu),
            )
        finally:
            for fd in fds:
                os.close(fd)
        with _running_lock:
            _running.add(proc)
        assert proc.stdout is not None  # stdout=PIPE
        out = Drain(os.dup(proc.stdout.fileno()), MAX_LOG if log else 1 << 20, log)
        proc.stdout.close()
        out.start()
        try:
            code: int | None = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            kill_tree(proc)  # also when it exited: nothing it started may outlive it
            if group:
                group.kill()
            proc.wait()
            with _running_lock:
                _running.discard(proc)
        out.join(timeout=5)  # a pipe still held open by an escaped process is abandoned, not waited on
        return Outcome(code, out, group.usage() if group else {})
    finally:
        if group and not group.remove():
            print(f"warning: could not delete the control group {group.folders()[0].name}", file=sys.stderr)
