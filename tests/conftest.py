from __future__ import annotations

import os
from pathlib import Path

import pytest

# the shared copy beside the checkout, or wherever FFNN_LAB_REAL_DATA points
REAL_DATA = Path(
    os.environ.get("FFNN_LAB_REAL_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpg"
)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets its own data root and no inherited data-source settings."""
    monkeypatch.setenv("FFNN_LAB_ROOT", str(tmp_path / "root"))
    monkeypatch.delenv("FFNN_LAB_DATA", raising=False)
    monkeypatch.delenv("FFNN_LAB_QUICK", raising=False)


@pytest.fixture
def real_data() -> Path:
    if not (REAL_DATA / "train").is_dir():
        pytest.skip(f"real data absent: {REAL_DATA} not found (optional; set FFNN_LAB_REAL_DATA)")
    return REAL_DATA


def pytest_report_header(config):
    found = "found" if (REAL_DATA / "train").is_dir() else "ABSENT: real-data tests will be skipped"
    return [f"real data {REAL_DATA}: {found}", f"FFNN_LAB_QUICK={os.environ.get('FFNN_LAB_QUICK', '')}"]
