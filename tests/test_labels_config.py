from pathlib import Path

import pytest

from ffnn_lab import config
from ffnn_lab.labels import CIFAR2_CLASSES, CIFAR2_SOURCE_LABELS, CLASSES, LABEL_MAP, remap_label


def test_label_map_makes_airplane_0_and_bird_1_without_collisions():
    remapped = [remap_label(i) for i in range(10)]
    assert sorted(remapped) == list(range(10))  # a permutation: no two classes share a label
    assert [CIFAR2_CLASSES[remap_label(CLASSES.index(c))] for c in CIFAR2_CLASSES] == list(CIFAR2_CLASSES)
    assert [CLASSES[i] for i in CIFAR2_SOURCE_LABELS] == list(CIFAR2_CLASSES)
    assert all(remap_label(i) == i for i in range(10) if i not in LABEL_MAP)  # the rest stay put


def test_data_source_precedence(monkeypatch):
    assert config.data_source() is None
    monkeypatch.setenv("FFNN_LAB_QUICK", "1")
    assert config.data_source() == "synthetic"
    monkeypatch.setenv("FFNN_LAB_DATA", "/some/dir")
    assert config.data_source() == "/some/dir"
    assert config.data_source("other") == str(Path("other").absolute())
    assert config.data_source("Synthetic") == "synthetic"


@pytest.mark.parametrize("value, quick", [("1", True), ("yes", True), ("0", False), ("", False)])
def test_quick_mode(monkeypatch, value, quick):
    monkeypatch.setenv("FFNN_LAB_QUICK", value)
    assert config.quick_mode() is quick
    assert ("QUICK" in config.banner()) is quick


def test_banner_names_the_source(monkeypatch, tmp_path):
    assert "official CIFAR-10" in config.banner()
    monkeypatch.setenv("FFNN_LAB_DATA", "synthetic")
    assert "SYNTHETIC" in config.banner()
    monkeypatch.setenv("FFNN_LAB_DATA", str(tmp_path))
    assert str(tmp_path) in config.banner()
    monkeypatch.setenv("FFNN_LAB_ROOT", str(tmp_path / "r"))
    assert config.data_root() == tmp_path / "r"
