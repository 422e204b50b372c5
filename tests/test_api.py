"""The package's top level: what a 0.1 notebook 08 reaching for a moved name is told, and until when."""

import dataclasses
import importlib
import re

import pytest
from packaging.version import Version

import ffnn_lab
from ffnn_lab.notebook import Lab


def resolve(dotted: str):
    """The object a dotted name of the lab names: its longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("name", sorted(ffnn_lab.MOVED))
def test_a_moved_name_says_where_it_went(name):
    where, _ = ffnn_lab.MOVED[name]
    with pytest.raises(AttributeError) as e:
        getattr(ffnn_lab, name)
    assert str(e.value) == f"ffnn_lab.{name} is gone since 0.2.0: use {where}"
    # and every place it names exists: the lab's names, and what a Lab from setup() has
    named = re.findall(r"\bffnn_lab(?:\.\w+)+", where)
    assert named and all(resolve(n) is not None for n in named)
    lab_has = {f.name for f in dataclasses.fields(Lab)} | set(dir(Lab))
    assert set(re.findall(r"\blab\.(\w+)", where)) <= lab_has


@pytest.mark.parametrize("name", sorted(ffnn_lab.MOVED))
def test_each_hint_goes_in_the_version_it_names(name):
    _, dropped_in = ffnn_lab.MOVED[name]
    assert Version(ffnn_lab.__version__) < Version(dropped_in), f"delete MOVED[{name!r}]: due in {dropped_in}"


def test_an_unknown_name_is_a_plain_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        ffnn_lab.no_such_thing  # noqa: B018
    assert not hasattr(ffnn_lab, "no_such_thing")
