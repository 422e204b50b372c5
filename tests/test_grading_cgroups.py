"""The sandboxes' control groups: what is written for each layout (on a stand-in hierarchy, so these
run anywhere) and what the kernel enforces (on this machine's own groups, skipped where it has none)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ffnn_lab.grading import cgroups


@pytest.fixture
def v2_top(tmp_path, monkeypatch) -> Path:
    """A stand-in for a cgroup v2 hierarchy's top, seen by a root grader on a machine without v1,
    which is not alone in its group (so its groups go under the top)."""
    top = tmp_path / "cgroup"
    top.mkdir()
    (top / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids\n")
    (top / "cgroup.subtree_control").write_text("memory\n")
    (top / "cgroup.procs").write_text(f"1\n{os.getpid()}\n")
    monkeypatch.setattr(cgroups, "_own_v1", lambda: {})
    monkeypatch.setattr(cgroups, "_v2_top", lambda: top)
    monkeypatch.setattr(cgroups, "_v2_own", lambda top: top)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    return top


def test_without_v1_groups_go_under_the_v2_top_with_its_controllers_enabled(v2_top):
    place = cgroups._choose()
    assert place == cgroups.Place({"cpu": v2_top, "memory": v2_top, "pids": v2_top}, v2=True)
    # only the controllers not yet enabled are asked for (a real file takes each "+name" in turn)
    assert (v2_top / "cgroup.subtree_control").read_text() == "+cpu +pids"


def test_a_grader_alone_in_its_group_moves_into_a_leaf_and_its_groups_go_beside_it(v2_top, monkeypatch):
    own = v2_top / "grading.service"
    own.mkdir()
    (own / "cgroup.procs").write_text(f"{os.getpid()}\n")
    monkeypatch.setattr(cgroups, "_v2_own", lambda top: own)
    assert cgroups._choose() == cgroups.Place({"cpu": own, "memory": own, "pids": own}, v2=True)
    assert (own / f"ffnn-lab-{cgroups.RUN}-grader" / "cgroup.procs").read_text() == str(os.getpid())
    assert (own / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert (v2_top / "cgroup.subtree_control").read_text() == "memory\n"  # the top is left as it was


def test_v2_limits_are_written_in_v2_terms(v2_top):
    place = cgroups._choose()
    group = cgroups.create("p1-3", cpus=1.5, memory_bytes=3 << 20, processes=7, place=place)
    folder = v2_top / f"ffnn-lab-{cgroups.RUN}-p1-3"
    assert group.folders() == [folder] and group.procs_files() == [str(folder / "cgroup.procs").encode()]
    written = {f: (folder / f).read_text() for f in ("cpu.max", "memory.max", "pids.max")}
    assert written == {"cpu.max": "150000 100000", "memory.max": str(3 << 20), "pids.max": "7"}
    assert not (folder / "memory.swap.max").exists()  # the kernel does not account swap: none written
    with pytest.raises(FileExistsError):  # a group is always new: a leftover would carry its counts
        cgroups.create("p1-3", place=place)


def test_where_the_kernel_accounts_swap_v2_allows_none(v2_top, monkeypatch):
    mkdir = Path.mkdir

    def with_swap_file(self, *args, **kwargs):  # as the kernel makes a group's files with it
        mkdir(self, *args, **kwargs)
        (self / "memory.swap.max").write_text("max")

    monkeypatch.setattr(Path, "mkdir", with_swap_file)
    group = cgroups.create("s", place=cgroups._choose())
    assert (group.folders()[0] / "memory.swap.max").read_text() == "0"


def test_v2_usage_is_read_from_v2_files(v2_top):
    group = cgroups.create("u", place=cgroups._choose())
    folder = group.folders()[0]
    (folder / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    (folder / "memory.peak").write_text("123456\n")
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n")
    (folder / "pids.events").write_text("max 4\n")
    assert group.usage() == {
        "cpu_seconds": 2.5,
        "memory_peak_bytes": 123456,
        "out_of_memory": True,
        "processes_refused": 4,
    }


def busy_subtree_control(top: Path, mp: pytest.MonkeyPatch) -> None:
    real = Path.write_text

    def refuse(self, text, *args, **kwargs):
        if self.name == "cgroup.subtree_control":
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        return real(self, text, *args, **kwargs)

    mp.setattr(Path, "write_text", refuse)


@pytest.mark.parametrize(
    "change, why",
    [
        (lambda top, mp: mp.setattr(os, "geteuid", lambda: 1000), "only as root"),
        (lambda top, mp: (top / "cgroup.controllers").write_text("cpu io\n"), "controller(s) memory, pids"),
        (busy_subtree_control, "it holds processes of its own, as a container's top group does"),
        (lambda top, mp: mp.setattr(cgroups, "_v2_top", lambda: None), "there is no cgroup v2 hierarchy"),
    ],
)
def test_where_v2_cannot_be_used_the_reason_says_why(v2_top, monkeypatch, change, why):
    change(v2_top, monkeypatch)
    assert why in cgroups._choose()


def test_a_grader_alone_but_not_delegated_goes_back_where_it_was(v2_top, monkeypatch):
    own = v2_top / "session.scope"
    own.mkdir()
    (own / "cgroup.procs").write_text(f"{os.getpid()}\n")
    monkeypatch.setattr(cgroups, "_v2_own", lambda top: own)
    busy_subtree_control(v2_top, monkeypatch)
    assert "holds processes of its own" in cgroups._choose()  # then the top was tried, and refused
    assert (own / "cgroup.procs").read_text() == str(os.getpid())


def test_complete_v1_is_preferred_and_a_partial_one_is_named(v2_top, tmp_path, monkeypatch):
    own = {c: tmp_path / "v1" / c for c in cgroups.CONTROLLERS}
    monkeypatch.setattr(cgroups, "_own_v1", lambda: own)
    assert cgroups._choose() == cgroups.Place(own, v2=False)
    monkeypatch.setattr(cgroups, "_own_v1", lambda: {"cpu": own["cpu"]})  # partial v1: v2 instead
    assert cgroups._choose().v2
    monkeypatch.setattr(cgroups, "_v2_top", lambda: None)  # and where v2 fails too, both are named
    assert cgroups._choose() == (
        "the cgroup v1 controller(s) cpuacct, memory, pids are not mounted, and there is no cgroup v2 "
        "hierarchy"
    )


def test_the_v2_mount_is_the_whole_hierarchy_at_its_usual_place():
    line = "{id} 23 0:{dev} {root} {point} rw,relatime - {fs} {fs} rw"
    mounts = [
        line.format(id=30, dev=27, root="/", point="/sys/fs/cgroup/cpu", fs="cgroup"),
        line.format(id=31, dev=28, root="/grading.slice", point="/srv/part", fs="cgroup2"),  # a subtree
        line.format(id=32, dev=28, root="/", point="/mnt/my\\040copy", fs="cgroup2"),  # a copy elsewhere
        line.format(id=33, dev=28, root="/", point="/sys/fs/cgroup/unified", fs="cgroup2"),
    ]
    assert cgroups._cgroup2_mount("\n".join(mounts)) == Path("/sys/fs/cgroup/unified")
    assert cgroups._cgroup2_mount("\n".join(mounts[:3])) == Path("/mnt/my copy")  # escapes decoded
    assert cgroups._cgroup2_mount("\n".join(mounts[:2])) is None


def test_only_empty_old_groups_of_graders_that_are_gone_are_swept(v2_top):
    place = cgroups._choose()
    gone = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # no process can have this PID
    old = time.time() - 3600
    stale = v2_top / f"ffnn-lab-{gone}-0badc0de-p1-0"
    young = v2_top / f"ffnn-lab-{gone}-0badc0de-p1-1"  # maybe another PID namespace's, being joined
    busy = v2_top / f"ffnn-lab-{gone}-0badc0de-p2-0"  # holds processes: never killed, kept
    ours = v2_top / f"ffnn-lab-{cgroups.RUN}-p1-0"
    notes = v2_top / "ffnn-lab-notes"  # not a group of ours by its name
    for d in (stale, young, busy, ours, notes):
        d.mkdir()
    (busy / "cgroup.procs").write_text("4242\n")  # the stand-in's rmdir refuses it, as the kernel does
    for d in (stale, busy, ours, notes):
        os.utime(d, (old, old))
    assert cgroups.sweep(place) == [stale]
    assert not stale.exists() and all(d.exists() for d in (young, busy, ours, notes))


# --- on this machine's own control groups ---------------------------------------------------------


def joining(group: cgroups.Group):
    """A preexec_fn that puts the child into group, as sandbox.preexec does."""
    files = group.procs_files()

    def join() -> None:
        for f in files:
            with open(f, "w") as out:
                out.write(str(os.getpid()))

    return join


def start_in(group: cgroups.Group, code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code], preexec_fn=joining(group), stderr=subprocess.DEVNULL
    )


@pytest.fixture
def group(request):
    if cgroups.unavailable():  # asked here, not at collection: asking makes a group and sweeps
        pytest.skip(f"no control groups here: {cgroups.unavailable()}")
    made = cgroups.create(request.node.name[:40], cpus=0.5, memory_bytes=96 << 20, processes=16)
    yield made
    made.remove()
    assert not any(d.exists() for d in made.folders())


def test_the_cpu_quota_holds_for_every_process_in_the_group(group):
    busy = "import multiprocessing as m, time\ndef spin():\n    while True: pass\n" + (
        "ps = [m.Process(target=spin) for _ in range(2)]\n[p.start() for p in ps]\ntime.sleep(3)\n"
        "[p.kill() for p in ps]"
    )
    start = time.perf_counter()
    start_in(group, busy).wait(timeout=30)
    wall, used = time.perf_counter() - start, group.usage()["cpu_seconds"]
    assert 0.2 * wall < used < 0.5 * wall * 1.15, (used, wall, cgroups.layout())


def test_the_memory_limit_kills_whatever_exceeds_it(group):
    code = start_in(group, "x = bytearray(400 << 20); x[::4096] = b'1' * len(x[::4096])").wait(timeout=60)
    use = group.usage()
    assert code == -9 and use["out_of_memory"], (code, use, cgroups.layout())
    assert use["memory_peak_bytes"] is None or use["memory_peak_bytes"] <= 96 << 20, use


def test_the_process_limit_refuses_more_threads(group):
    code = (
        "import threading, time\nmade = 0\n"
        "try:\n    for _ in range(40):\n"
        "        threading.Thread(target=time.sleep, args=(2,), daemon=True).start()\n        made += 1\n"
        "except RuntimeError:\n    pass\nprint(made)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        preexec_fn=joining(group),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert int(out.stdout) < 16 and group.usage()["processes_refused"] > 0, (out, cgroups.layout())


def test_removing_a_group_kills_what_it_holds(group):
    sleeper = start_in(group, "import time; time.sleep(60)")
    for _ in range(100):
        if group.pids():
            break
        time.sleep(0.05)
    assert group.pids() == [sleeper.pid]
    group.remove()
    assert sleeper.wait(timeout=10) == -9
