"""The grader against submissions written to cheat, hang, crash or sabotage, each class of attack a test.

Every submission here runs for real: in bubblewrap (skipped, with the reason, where it cannot start),
on a small array copy of the synthetic stand-in whose test split plays the private images.
"""

import ast
import csv
import ctypes
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from ffnn_lab import cli
from ffnn_lab.grading import process, runner, sandbox
from ffnn_lab.grading.pipeline import Budget
from ffnn_lab.synthetic import make_images

pytestmark = pytest.mark.slow
TIMEOUT = 120  # seconds per notebook: generous, so a busy machine does not fail honest work
MARKER = "3171"  # in the command line of every process a submission leaves behind
GRADER_KEY = "ffnn-grader-secret"  # a key in the grader's own session keyring

SETUP = "import torch, ffnn_lab\ntorch.manual_seed(0)\ndata = ffnn_lab.prepare_cifar2()"
HONEST = SETUP + "\nmodel = ffnn_lab.baseline()\nffnn_lab.fit(model, data.train, epochs=5, progress=False)"
UNTRAINED = (
    "import torch, ffnn_lab\nmodel = ffnn_lab.baseline()\n"
    "torch.nn.init.zeros_(model[-1].weight)\ntorch.nn.init.zeros_(model[-1].bias)"
)  # always class 0
UNTOUCHED = SETUP + (
    "\nmodel = ffnn_lab.baseline()\n"  # notebook 08's edit cell as handed out
    "ffnn_lab.fit(model, data.train, data.val, epochs=100, batch_size=64, lr=1e-2)"
)
BETTER = SETUP + (
    "\nmodel = ffnn_lab.wide_mlp()\nffnn_lab.fit(model, data.train, epochs=30, optimizer='adamw', "
    "lr=2e-3, schedule='onecycle', weight_decay=0.05, batch_size=128, max_shift=3, flip=True, "
    "progress=False)"
)


def snoop(private: Path, grader_root: Path) -> str:
    """A notebook that looks everywhere for the private split and reports what it found as its error."""
    return f"""\
import glob, json, os
needles = [{str(private)!r}, {str(grader_root)!r}, "ffnn-lab-private", "test.npz", "private-images"]
found = []
found += [f"env {{k}}" for k, v in os.environ.items() if any(n in v for n in needles)]
found += [p for p in needles[:2] if os.path.exists(p)]
if sorted(os.listdir("/data")) != ["train.npz"]:
    found.append(f"/data holds {{os.listdir('/data')}}")
for proc in glob.glob("/proc/[0-9]*"):
    for what in ("cmdline", "environ"):
        try:
            text = open(f"{{proc}}/{{what}}", "rb").read().decode(errors="replace")
        except OSError:
            continue
        found += [f"{{proc}}/{{what}}: {{n}}" for n in needles if n in text]
    try:
        cwd = os.readlink(f"{{proc}}/cwd")
        found += [f"{{proc}}/cwd {{cwd}}" for n in needles if n in cwd]
    except OSError:
        pass
for top in ("/home", "/tmp", "/data", "/root", "/work", "/var", "/srv", "/mnt", "/opt"):
    for root, dirs, files in os.walk(top):
        found += [os.path.join(root, f) for f in files
                  if (f in ("test.npz", "private-images.npy") or f.startswith("reference-"))
                  and "site-packages" not in root]  # libraries ship test files of their own
raise RuntimeError("found: " + json.dumps(sorted(set(found))))
"""


TAMPER = (
    UNTRAINED
    + """
import atexit, builtins, sys
import numpy as np, torch
np.save = lambda *a, **k: None
torch.Tensor.argmax = lambda self, *a, **k: torch.ones(self.shape[0], dtype=torch.long)
_real_import = builtins.__import__
builtins.__import__ = lambda name, *a, **k: _real_import(name, *a, **k)
sys.settrace(lambda *a: None)
atexit.register(lambda: open("/home/student/pred.npy", "wb").write(b"forged"))
get_ipython().input_transformers_post.append(lambda lines: [l.replace("model", "model") for l in lines])
"""
)
FORGER = (
    HONEST
    + """
import ffnn_lab.grading.graph as g
_real = g.to_graph
def forged(model):
    spec, weights = _real(model)
    spec["nodes"].append({"name": "cheat", "op": "system.default", "args": [{"ref": spec["output"]}],
                          "kwargs": {}})
    spec["output"] = "cheat"
    return spec, weights
g.to_graph = forged
"""
)
ESCAPE = (
    f"""\
import subprocess
subprocess.Popen(["sh", "-c", "sleep {MARKER}"], start_new_session=True)  # holds the output pipe
subprocess.Popen(["sh", "-c", "setsid sleep {MARKER} &"])
"""
    + HONEST
)
REGEX_HANG = "import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')  # holds the GIL: no cell timeout can interrupt"
FLOOD = "import os\nfor _ in range(64):\n    os.write(1, b'\\xff\\xfe not utf-8 ' * 65536)\n" + HONEST
SABOTEUR = (
    UNTRAINED  # torch imported first: the shadowing torch.py below would only break this notebook itself
    + """
import os, pathlib
pathlib.Path("torch.py").write_text("raise SystemExit('shadowed')")
pathlib.Path("/home/student/numpy.py").write_text("raise SystemExit('shadowed')")
for target in ["/data/train.npz", "/data/x", {victim!r}, {report!r}]:
    try:
        pathlib.Path(target).write_text("sabotage")
    except OSError:
        pass
"""
)

KEYRING = """\
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
found = []
# write a key for the next submission, and look for the grader's: the key store must be out of reach
if libc.syscall(248, b"user", b"left-by-a-student", b"x", 1, ctypes.c_int(-3)) >= 0:  # add_key
    found.append("wrote a key")
if libc.syscall(249, b"user", b"{secret}", None, ctypes.c_int(0)) >= 0:  # request_key
    found.append("read the grader's key")
found += [f"uid {{os.getuid()}}"] if os.getuid() == 0 else []
raise RuntimeError("keyring: " + repr(found))
"""
FILLER = """\
import os
room = {{}}
for place in ("/", "/dev", "/etc", "/tmp", "/home/student", "/dev/shm"):
    written = 0
    try:
        with open(os.path.join(place, "filler"), "wb") as f:
            while written < 3 << 30:
                f.write(b"x" * (64 << 20))
                written += 64 << 20
    except OSError:
        pass
    room[place] = written >> 20
    try:
        os.remove(os.path.join(place, "filler"))
    except OSError:
        pass
kids = []
import subprocess
try:
    while len(kids) < 2000:
        kids.append(subprocess.Popen(["sleep", "{marker}"]))
except OSError:
    pass
print("ROOM", room, "KIDS", len(kids))
for kid in kids:  # room again for the threads that training needs (one per core of its share)
    kid.kill()
    kid.wait()
"""

# a status line that would blame the grader's host, then phase 1 killed before it can speak
FORGE = """\
import json, os
print("PHASE1 " + json.dumps({"kind": "kernel", "said": "No space left on device (grader host)"}), flush=True)
os.kill(os.getppid(), 9)
"""


def require_sandbox() -> None:
    """Skip where bubblewrap is not installed; where it is but cannot start a sandbox, fail: that is
    a bug to see (a sandbox that never starts would otherwise pass CI as a row of skips)."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap); the sandbox tests need it")
    sandbox.check_available()


def notebook(path: Path, *cells: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path)
    return path


def leftovers() -> list[str]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f"sleep {MARKER}" in cmd:
            found.append(cmd)
    return found


@pytest.fixture(scope="module")
def private_data(tmp_path_factory):
    """An array copy with a test split: the grader's private images; train.npz is all a notebook may see."""
    require_sandbox()
    root = tmp_path_factory.mktemp("private-course-data")
    # per class 1,500 images: 1,000 for the notebook's own hold-out (its default 2,000), 500 to train
    x, t = make_images(1500, seed=5)
    np.savez(root / "train.npz", data=x, targets=np.array(t))
    x, t = make_images(100, seed=6)  # 200 private airplanes and birds, balanced
    np.savez(root / "test.npz", data=x, targets=np.array(t))
    return root


def rows_of(report: Path) -> dict[str, dict]:
    return {r["submission"]: r for r in csv.DictReader((report / "report.csv").open())}


@pytest.fixture(scope="module")
def graded(private_data, tmp_path_factory):
    """A class of hostile submissions and two honest ones, graded two at a time."""
    subs = tmp_path_factory.mktemp("submissions")
    report = tmp_path_factory.mktemp("report")
    grader_root = tmp_path_factory.mktemp("grader-root")  # the grader's own cache, which must stay invisible
    victim = notebook(subs / "zoe" / "exercise.ipynb", HONEST)
    before = victim.read_bytes()
    notebook(subs / "amy" / "exercise.ipynb", HONEST)
    notebook(subs / "bea" / "exercise.ipynb", snoop(private_data, grader_root))
    notebook(subs / "cat" / "exercise.ipynb", TAMPER)
    notebook(subs / "dan" / "exercise.ipynb", FORGER)
    notebook(subs / "eve" / "exercise.ipynb", ESCAPE)
    notebook(subs / "fay" / "exercise.ipynb", REGEX_HANG)
    notebook(subs / "gus" / "exercise.ipynb", FLOOD)
    notebook(subs / "hal" / "exercise.ipynb", SABOTEUR.format(victim=str(victim), report=str(report / "x")))
    notebook(subs / "ian" / "exercise.ipynb", "model = lambda x: x")
    (subs / "jim").mkdir()
    (subs / "jim" / "exercise.ipynb").write_bytes(b"")
    (subs / "kim" / "exercise.ipynb").mkdir(parents=True)
    (subs / "liz").symlink_to(subs / "amy")  # graded under liz's name, it would be amy's work
    notebook(subs / "max" / "exercise.ipynb", KEYRING.format(secret=GRADER_KEY), UNTRAINED)
    notebook(subs / "ned" / "exercise.ipynb", FILLER.format(marker=MARKER), UNTRAINED)
    notebook(subs / "oda" / "exercise.ipynb", HONEST + "\nmodel = model.double()  # honest, in float64")
    notebook(subs / "pia" / "exercise.ipynb", UNTRAINED, FORGE)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall(248, b"user", GRADER_KEY.encode(), b"secret", 6, ctypes.c_int(-3))  # may be refused here
    start = time.monotonic()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FFNN_LAB_ROOT", str(grader_root))
        rows, code = runner.grade(
            sorted(subs.glob("*/exercise.ipynb")),
            report,
            runner.Options(data=str(private_data), budget=Budget(timeout=TIMEOUT), threshold=0.6, jobs=2),
        )
    return (
        {r.submission.split("/")[0]: r for r in rows},
        report,
        code,
        time.monotonic() - start,
        victim,
        before,
    )


def test_honest_submissions_are_graded_and_pass(graded):
    rows, _, code, *_ = graded
    assert code == 0
    for name in ("amy", "zoe"):
        assert rows[name].status == "graded" and rows[name].passed and rows[name].accuracy > 0.6, rows[name]


def test_the_notebook_sees_no_private_image_label_cache_or_grader_process(graded):
    rows, *_ = graded
    assert rows["bea"].error == "a cell raised an exception", rows["bea"]
    assert rows["bea"].student_text == "RuntimeError: found: []", rows["bea"]


def test_patching_inside_the_kernel_changes_nothing(graded):
    rows, *_ = graded
    assert rows["cat"].accuracy == 0.5 and not rows["cat"].passed, rows[
        "cat"
    ]  # what the untrained model earns
    # what a forged graph names is the submission's text, never the grader's words
    assert rows["dan"].error == "breaks the exercise's rules" and rows["dan"].accuracy is None, rows["dan"]
    assert "system.default" in rows["dan"].student_text
    assert (
        rows["ian"].error == "exporting `model` failed"
        and "not a torch.nn.Module" in rows["ian"].student_text
    )


def test_hangs_and_escaped_processes_are_cut_off_at_the_timeout(graded):
    rows, *_ = graded
    assert rows["eve"].status == "graded" and rows["eve"].seconds < TIMEOUT, rows["eve"]
    assert rows["fay"].error.startswith("timed out") and rows["fay"].seconds < TIMEOUT + 5 + 15, rows["fay"]
    assert leftovers() == []


def test_floods_and_bad_files_are_one_row_each(graded):
    rows, report, *_ = graded
    assert rows["gus"].status == "graded", rows["gus"]
    assert (report / "logs" / rows["gus"].log).stat().st_size <= process.MAX_LOG
    assert "not a readable notebook" in rows["jim"].error
    assert "is a directory" in rows["kim"].error
    assert len(rows) == 17 and len(rows_of(report)) == 17


def test_one_submission_cannot_touch_another_or_the_report(graded):
    rows, report, _, _, victim, before = graded
    assert rows["hal"].accuracy == 0.5  # its own (untrained) model, graded normally
    assert victim.read_bytes() == before and not (report / "x").exists()
    assert rows["zoe"].accuracy == rows["amy"].accuracy  # graded after the saboteur, same as before it


def test_the_key_store_is_out_of_reach_and_the_sandbox_user_is_not_root(graded):
    rows, *_ = graded
    assert rows["max"].student_text == "RuntimeError: keyring: []", rows["max"]


def test_every_writable_place_is_bounded_and_processes_are_limited(graded):
    rows, report, *_ = graded
    log = (report / "logs" / rows["ned"].log).read_text()
    room = ast.literal_eval(re.search(r"ROOM (\{.*?\})", log).group(1))
    kids = int(re.search(r"KIDS (\d+)", log).group(1))
    limits = sandbox.Limits()
    assert room["/"] == room["/dev"] == room["/etc"] == 0, room  # read-only
    assert room["/tmp"] <= limits.tmpfs_bytes >> 20 and room["/home/student"] <= limits.tmpfs_bytes >> 20, (
        room
    )
    assert room["/dev/shm"] <= limits.shm_bytes >> 20, room
    assert kids < limits.processes, kids
    assert rows["ned"].status == "graded" and leftovers() == [], rows["ned"]


def test_an_honest_float64_model_grades_the_same(graded):
    rows, *_ = graded
    assert rows["oda"].status == "graded" and rows["oda"].accuracy == rows["amy"].accuracy, rows["oda"]


def test_a_student_folder_linked_to_another_is_refused(graded):
    rows, report, *_ = graded
    assert rows["liz"].status == "failed" and rows["liz"].accuracy is None, rows["liz"]
    assert "symbolic link" in rows["liz"].error
    (feedback,) = (report / "feedback").glob("liz_exercise.ipynb-*.txt")
    assert feedback.read_text().count("NOT GRADED") == 1


def test_a_forged_status_line_does_not_choose_the_graders_words(graded):
    rows, *_ = graded
    assert rows["pia"].error.startswith("the notebook's process ended without exporting"), rows["pia"]
    assert "grader host" not in rows["pia"].error + rows["pia"].student_text


def test_student_text_in_the_reports_is_quoted_not_read(graded):
    _, report, *_ = graded
    md = (report / "report.md").read_text()
    line = next(ln for ln in md.splitlines() if ln.startswith("| bea"))
    assert "from the submission: `RuntimeError: found: []`" in line
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in (report / "feedback").iterdir())


HOG = (
    "import subprocess, sys, time\n"
    "hogs = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(30)]\n"
    "time.sleep(10)\n"
    "for h in hogs:\n    h.kill()\n" + UNTRAINED
)


def test_a_cpu_hog_gets_only_its_share_beside_an_honest_notebook(private_data, tmp_path):
    if sandbox.cgroups.unavailable():
        pytest.skip(f"no control groups here: {sandbox.cgroups.unavailable()}")
    hog = notebook(tmp_path / "subs" / "hog" / "exercise.ipynb", HOG)
    honest = notebook(tmp_path / "subs" / "pat" / "exercise.ipynb", HONEST)
    options = runner.Options(data=str(private_data), budget=Budget(timeout=TIMEOUT), threshold=0.6, jobs=2)
    rows, code = runner.grade([hog, honest], tmp_path / "report", options)
    by = {r.student: r for r in rows}
    assert code == 0 and by["pat"].passed, by["pat"]
    share = sandbox.Limits.for_run(TIMEOUT, 2).cpus
    # the quota holds: sixty busy processes get one sandbox's share of the cores, not the machine
    assert by["hog"].cpu_seconds <= 1.1 * share * by["hog"].seconds, by["hog"]
    assert leftovers() == []


def test_the_untouched_exercise_fails_the_calibrated_bar_and_a_real_improvement_passes(
    private_data, tmp_path
):
    untouched = notebook(tmp_path / "subs" / "untouched.ipynb", UNTOUCHED)
    better = notebook(tmp_path / "subs" / "better.ipynb", BETTER)
    # the synthetic stand-in is easy (99% for a good network): no plausibility ceiling on it
    options = runner.Options(data=str(private_data), budget=Budget(timeout=300), ceiling=1.0)
    rows, code = runner.grade([untouched, better], tmp_path / "report", options)
    by = {r.submission: r for r in rows}
    assert code == 0
    assert not by["untouched.ipynb"].passed and abs(by["untouched.ipynb"].margin) <= 0.01, by[
        "untouched.ipynb"
    ]
    assert by["better.ipynb"].passed and by["better.ipynb"].margin >= 0.02, by["better.ipynb"]
    assert by["better.ipynb"].threshold == pytest.approx(max(0.8, by["better.ipynb"].reference + 0.02))


def test_an_honest_submission_grades_the_same_without_the_sandbox(private_data, tmp_path, graded):
    rows, *_ = graded
    honest = notebook(tmp_path / "amy" / "exercise.ipynb", HONEST)
    options = runner.Options(data=str(private_data), threshold=0.6, sandboxed=False)
    plain, code = runner.grade([honest], tmp_path / "report", options)
    assert code == 0 and plain[0].accuracy == rows["amy"].accuracy
    assert (
        plain[0].sandbox == "UNSANDBOXED" and "UNSANDBOXED" in (tmp_path / "report" / "report.md").read_text()
    )


def test_without_bubblewrap_the_grader_refuses_and_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    code = cli.main(
        [
            "grade",
            str(notebook(tmp_path / "a.ipynb", HONEST)),
            "--data",
            "synthetic",
            "--report-dir",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "apt-get install bubblewrap" in err and "--no-sandbox" in err


def test_shards_merge_into_the_whole_class(private_data, tmp_path):
    subs = [notebook(tmp_path / "subs" / n / "exercise.ipynb", UNTRAINED) for n in ("a", "b", "c")]
    for k in (1, 2):
        assert (
            cli.main(
                [
                    "grade",
                    *map(str, subs),
                    "--data",
                    str(private_data),
                    "--threshold",
                    "0.6",
                    "--shard",
                    f"{k}/2",
                    "--report-dir",
                    str(tmp_path / f"shard{k}"),
                ]
            )
            == 0
        )
    assert [len(rows_of(tmp_path / f"shard{k}")) for k in (1, 2)] == [2, 1]
    assert (
        cli.main(
            [
                "grade-merge",
                str(tmp_path / "shard1"),
                str(tmp_path / "shard2"),
                "--report-dir",
                str(tmp_path / "all"),
            ]
        )
        == 0
    )
    merged = rows_of(tmp_path / "all")
    assert sorted(merged) == ["a/exercise.ipynb", "b/exercise.ipynb", "c/exercise.ipynb"]
    assert {r["accuracy"] for r in merged.values()} == {"0.5000"}


def test_sigterm_writes_the_report_so_far_and_exits_non_zero(private_data, tmp_path):
    subs = [
        notebook(
            tmp_path / "subs" / n / "exercise.ipynb",
            f"import subprocess\nsubprocess.run(['sleep', '{MARKER}'])",
        )
        for n in ("a", "b")
    ]
    report = tmp_path / "report"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ffnn_lab",
            "grade",
            *map(str, subs),
            "--data",
            str(private_data),
            "--threshold",
            "0.6",
            "--report-dir",
            str(report),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not leftovers() and time.monotonic() < deadline:  # wait until the first notebook is running
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, out
    rows = json.loads((report / "report.json").read_text())["rows"]
    assert [r["status"] for r in rows] == ["not graded", "not graded"]
    time.sleep(1)
    assert leftovers() == []


def test_notebook_08_handed_out_unchanged_fails_under_the_default_settings(tmp_path):
    require_sandbox()
    exercise = Path(__file__).resolve().parents[1] / "notebooks" / "08-exercise-beat-80-percent.ipynb"
    rows, code = runner.grade([exercise], tmp_path / "report", runner.Options(data="synthetic"))
    row = rows[0]
    assert code == 0 and row.status == "graded", row
    assert not row.passed and abs(row.margin) <= 0.01, row  # it is the reference, trained in the sandbox


def test_gpu_where_cuda_cannot_start_in_the_sandbox_says_so_and_grades_on_the_cpu(monkeypatch, capsys):
    require_sandbox()
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA works here: the fallback is for machines where it cannot start in the sandbox")
    monkeypatch.setattr(sandbox, "gpu_present", lambda: True)  # device files, but no working CUDA
    settings = runner._settings(runner.Options(gpu=True))
    assert settings.sandbox is not None and settings.sandbox.gpu is False
    err = capsys.readouterr().err
    assert "--gpu: CUDA did not start inside the sandbox" in err and "grading on the CPU instead" in err
    monkeypatch.setattr(sandbox, "gpu_present", lambda: False)
    with pytest.raises(runner.InvalidInput, match=r"no NVIDIA GPU \(no /dev/nvidia\*\): drop --gpu"):
        runner._settings(runner.Options(gpu=True))
