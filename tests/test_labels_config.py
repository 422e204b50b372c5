from pathlib import Path

import pytest

from ffnn_lab import config
from ffnn_lab.labels import CIFAR2_CLASSES, CLASSES, LABEL_MAP, remap_label


def test_label_map_is_the_lectures():
    assert LABEL_MAP == {0: 0, 2: 1, 1: 2}
    assert [remap_label(i) for i in range(10)] == [0, 2, 1, 3, 4, 5, 6, 7, 8, 9]
    assert CLASSES[0] == "airplane" and CLASSES[2] == "bird" and len(CLASSES) == 10
    assert CIFAR2_CLASSES == ("airplane", "bird")


def test_data_source_precedence(monkeypatch):
    assert config.data_source() is None
    monkeypatch.setenv("FFNN_LAB_QUICK", "1")
    assert config.data_source() == "synthetic"
    monkeypatch.setenv("FFNN_LAB_DATA", "/some/dir")
    assert config.data_source() == "/some/dir"
    assert config.data_source("other") == str(Path("other").absolute())
    assert config.data_source("Synthetic") == "synthetic"


@pytest.mark.parametrize("value, quick", [("1", True), ("yes", True), ("0", False), ("", False)])
def test_quick_mode_and_pick(monkeypatch, value, quick):
    monkeypatch.setenv("FFNN_LAB_QUICK", value)
    assert config.quick_mode() is quick
    assert config.pick(100, 2) == (2 if quick else 100)
    assert ("QUICK" in config.banner()) is quick


def test_banner_names_the_source(monkeypatch, tmp_path):
    assert "official CIFAR-10" in config.banner()
    monkeypatch.setenv("FFNN_LAB_DATA", "synthetic")
    assert "SYNTHETIC" in config.banner()
    monkeypatch.setenv("FFNN_LAB_DATA", str(tmp_path))
    assert str(tmp_path) in config.banner()
    monkeypatch.setenv("FFNN_LAB_ROOT", str(tmp_path / "r"))
    assert config.data_root() == tmp_path / "r"
