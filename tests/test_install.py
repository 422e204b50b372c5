"""Installing the lab keeps a working torch; the tested versions come from constraints.txt."""

import json
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
# a pair a hosted notebook might already hold: compatible with the lab, not the pair tested here
HOSTED = {"torch": "2.8.0", "torchvision": "0.23.0"}


def constraints() -> dict[str, str]:
    lines = (REPO / "constraints.txt").read_text().splitlines()
    return dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))


def stub(site: Path, name: str, version: str) -> None:
    """Metadata pip reads as an installed distribution, without the package itself."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")


def test_installing_the_lab_beside_another_compatible_torch_keeps_it(tmp_path):
    """pip, offline, in a fresh environment that already holds HOSTED: nothing to install or replace.

    Every other dependency is present at the version this interpreter has; if pyproject.toml pinned
    torch exactly, pip would need another torch, find none offline, and fail."""
    if Version(metadata.version("pip")) < Version("22.3"):
        pytest.skip("pip install --python needs pip 22.3 or newer")
    venv = tmp_path / "hosted"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    site = next(venv.glob("lib/python*/site-packages"), None) or venv / "Lib" / "site-packages"
    requirements = PROJECT["dependencies"]
    for name in (Requirement(r).name for r in requirements):
        stub(site, name, HOSTED.get(name) or metadata.version(name))
    python = venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    report = tmp_path / "report.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--dry-run",
            "--no-index",
            "--quiet",
            "--report",
            report,
            *requirements,
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(report.read_text())["install"] == []


def test_every_dependency_is_pinned_within_the_range_pyproject_asks_for():
    pinned = {canonicalize_name(name): version for name, version in constraints().items()}
    for text in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]:
        req = Requirement(text)
        assert canonicalize_name(req.name) in pinned, f"{req.name} is not pinned in constraints.txt"
        assert req.specifier.contains(pinned[canonicalize_name(req.name)]), (
            f"{req.name}: {pinned[canonicalize_name(req.name)]}"
        )


def test_the_pins_agree_with_each_other():
    """Each pinned distribution installed here at its pinned version accepts the other pins (the
    torchvision pinned needs the torch pinned, say), so pip can install the file as a whole."""
    pinned = {canonicalize_name(name): version for name, version in constraints().items()}
    checked = []
    for name, version in pinned.items():
        try:
            if metadata.version(name) != version:
                continue
        except metadata.PackageNotFoundError:
            continue
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue  # an extra nobody asked for, or another platform's
            if canonicalize_name(req.name) in pinned:
                need = pinned[canonicalize_name(req.name)]
                assert req.specifier.contains(need, prereleases=True), (
                    f"{name}=={version} needs {req}, not {need}"
                )
        checked.append(name)
    if "torchvision" not in checked:
        pytest.skip("the pinned torchvision is not installed here: its needs cannot be read")


def test_make_setup_installs_with_the_constraints():
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    dry = subprocess.run([make, "-n", "-B", "setup"], cwd=REPO, capture_output=True, text=True, check=True)
    installs = [shlex.split(line) for line in dry.stdout.splitlines() if " install " in line]
    assert installs, dry.stdout
    for argv in installs:
        assert ["-c", "constraints.txt"] in [argv[i : i + 2] for i in range(len(argv) - 1)], argv


@pytest.mark.parametrize("name", ["torch", "torchvision"])
def test_this_environment_is_the_tested_one_when_make_built_it(name):
    if Path(sys.prefix).resolve() != (REPO / ".venv").resolve():
        pytest.skip("not the .venv that make setup builds")
    assert Requirement(f"{name}=={constraints()[name]}").specifier.contains(metadata.version(name))
