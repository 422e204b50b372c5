"""The shared helpers behind every exercise check (ffnn_lab.exercises)."""

import pytest

import ffnn_lab
from ffnn_lab import exercises as ex


@pytest.mark.parametrize("value, expected", [(..., True), (None, True), (0, False), ("", False),
                                             ([], False), (False, False)])
def test_unanswered_means_placeholder_only(value, expected):
    assert ex.unanswered(value) is expected


def test_message_helpers_print_and_return(capsys):
    assert ex.right("shape (2, 3)") is True
    assert ex.not_yet("wrong dtype") is False
    assert ex.not_answered() is False
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["✅ Right: shape (2, 3)", "❌ Not yet: wrong dtype", ex.NOT_ANSWERED]
    assert lines[2].startswith("✏️ Not answered yet")


def test_attempt_returns_the_result_when_it_works(capsys):
    assert ex.attempt(lambda a, b: a + b, 2, b=3) == 5
    assert capsys.readouterr().out == ""


def test_attempt_turns_an_exception_into_one_line(capsys):
    def broken(x):
        return x[10]

    assert ex.attempt(broken, [1, 2]) is ex.FAILED
    out = capsys.readouterr().out
    assert out == "❌ Not yet: calling broken raised IndexError: list index out of range\n"


def test_attempt_on_gap_or_non_function(capsys):
    assert ex.attempt(..., 1) is ex.FAILED
    assert ex.attempt(42) is ex.FAILED
    assert capsys.readouterr().out.splitlines() == [ex.NOT_ANSWERED,
                                                    "❌ Not yet: expected a function, got int"]


def test_check_decorator_handles_gaps_and_surprises(capsys):
    @ex.check
    def check_square(f):
        """Right when f squares numbers."""
        return ex.right("squares") if f(3) == 9 else ex.not_yet("f(3) is not 9")

    assert check_square.__doc__ == "Right when f squares numbers."
    assert check_square(...) is False
    assert check_square(lambda x: x * x) is True
    assert check_square(lambda x: x + x) is False
    assert check_square(123) is False              # not callable: a message, not a TypeError
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ex.NOT_ANSWERED and out[1].startswith("✅") and out[2].startswith("❌")
    assert out[3].startswith("❌ Not yet: the check could not use your answer (TypeError")


def test_notebook_modules_are_reachable_from_the_package():
    assert ffnn_lab.exercises is ex
    with pytest.raises(AttributeError):
        ex.not_a_module  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        ex.nb99  # noqa: B018
