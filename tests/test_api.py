"""The package's top level: what 0.1 code reaching for a moved name is told."""

import importlib
import re

import pytest

import ffnn_lab


@pytest.mark.parametrize("name", sorted(ffnn_lab.MOVED))
def test_a_moved_name_says_where_it_went(name):
    with pytest.raises(AttributeError, match=rf"ffnn_lab\.{name} is gone since 0\.2\.0: use "):
        getattr(ffnn_lab, name)
    # and the place it names exists
    target = re.match(r"ffnn_lab\.([\w.]+)", ffnn_lab.MOVED[name][0])
    if target:
        *module, attr = target.group(1).split(".")
        assert hasattr(importlib.import_module(".".join(["ffnn_lab", *module])), attr)


def test_an_unknown_name_is_a_plain_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        ffnn_lab.no_such_thing  # noqa: B018
    assert not hasattr(ffnn_lab, "no_such_thing")
