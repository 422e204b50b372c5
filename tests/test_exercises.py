"""How every self-check judges (ffnn_lab.exercises.judge, answers, written): one message per
state of an attempt, answers in any reasonable form, bans enforced, nothing given away."""

import inspect
import random
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import ffnn_lab
from ffnn_lab import exercises as ex
from ffnn_lab.exercises import answers, judge, nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb09

# every check, with the arguments the student release leaves it (gaps as `...`) and the fixed
# arguments its notebook passes
ITEM = (Image.new("RGB", (32, 32)), 3)
LABELS = torch.tensor([0, 1] * 20)
MATRIX = torch.tensor([[812, 188], [169, 831]])
CHECKS = {
    "nb01.check_item": (nb01.check_item, ((..., ...), ..., ITEM)),
    "nb01.check_class_counts": (nb01.check_class_counts, (...,)),
    "nb01.check_every_other": (nb01.check_every_other, (...,)),
    "nb02.check_channel_stats": (nb02.check_channel_stats, (...,)),
    "nb02.check_normalize": (nb02.check_normalize, (...,)),
    "nb02.check_vehicle_transform": (nb02.check_vehicle_transform, (...,)),
    "nb03.check_label_trap": (nb03.check_label_trap, (...,)),
    "nb03.check_cifar2_positions": (nb03.check_cifar2_positions, (...,)),
    "nb03.check_majority_accuracy": (nb03.check_majority_accuracy, (..., LABELS)),
    "nb04.check_parameter_count": (nb04.check_parameter_count, (..., ...)),
    "nb04.check_softmax_rows": (nb04.check_softmax_rows, (...,)),
    "nb04.check_argmax_answer": (nb04.check_argmax_answer, (..., ...)),
    "nb05.check_cross_entropy": (nb05.check_cross_entropy, (...,)),
    "nb05.check_entropy": (nb05.check_entropy, (...,)),
    "nb05.check_logit_gradient": (nb05.check_logit_gradient, (...,)),
    "nb06.check_batch_sizes": (nb06.check_batch_sizes, (...,)),
    "nb06.check_accuracy": (nb06.check_accuracy, (...,)),
    "nb06.check_random_shift": (nb06.check_random_shift, (...,)),
    "nb07.check_pixel_weights": (nb07.check_pixel_weights, (...,)),
    "nb07.check_confusion_reading": (nb07.check_confusion_reading, (..., MATRIX)),
    "nb07.check_decision": (nb07.check_decision, (..., ..., ...)),
    "nb09.check_which_figure": (nb09.check_which_figure, (..., ..., ...)),
    "nb09.check_mixup": (nb09.check_mixup, (...,)),
    "nb09.check_dropout": (nb09.check_dropout, (...,)),
}


def said(capsys, check, *args) -> tuple[bool, str]:
    """What a check returned and printed; it must print one message and never a traceback."""
    result = check(*args)
    out = capsys.readouterr().out
    assert isinstance(result, bool) and out.endswith("\n") and "Traceback" not in out, out
    assert out.startswith(("✅ Right: ", "❌ Not yet: ", "✏️ Not answered yet: ")), out
    return result, out


# --- the states of an attempt: one text each, the same in every notebook ------------------


@pytest.mark.parametrize("name", CHECKS)
def test_every_check_says_not_answered_yet_to_the_release_gaps(capsys, name):
    check, args = CHECKS[name]
    assert check.__doc__
    assert said(capsys, check, *args) == (False, ex.NOT_WRITTEN + "\n")


def gap(*args):
    """A function as the student release leaves it."""
    ...  # ✏️ your code here


def no_return(*args):
    """Written, but the result is never returned."""
    args = list(args)


def raises(*args):
    return [][1]


class OpenGaps:
    """EveryOther as released: both methods still hold their gap."""

    def __init__(self, base):
        self.base = base

    def __len__(self): ...

    def __getitem__(self, index): ...


FUNCTION_CHECKS = [n for n in CHECKS if n not in {"nb01.check_item", "nb04.check_argmax_answer"}]


def with_student(name, student):
    """The check's release arguments with `student` in the place of the function gap."""
    check, args = CHECKS[name]
    args = list(args)
    spot = {"nb04.check_parameter_count": 1, "nb07.check_decision": 1, "nb09.check_which_figure": 1}.get(
        name, 0
    )
    fixed = {
        "nb04.check_parameter_count": 3737474,
        "nb07.check_decision": 0.1,
        "nb09.check_which_figure": "c",
    }
    if name in fixed:
        args[0] = fixed[name]
    args[spot] = student
    return check, args


@pytest.mark.parametrize("name", FUNCTION_CHECKS)
def test_a_function_with_its_gap_open_is_not_answered_yet(capsys, name):
    student = OpenGaps if name == "nb01.check_every_other" else gap
    check, args = with_student(name, student)
    ok, out = said(capsys, check, *args)
    assert not ok and out.startswith(ex.NOT_WRITTEN), out


@pytest.mark.parametrize("name", [n for n in FUNCTION_CHECKS if n != "nb01.check_every_other"])
def test_returned_none_raised_and_not_callable_get_one_text_each(capsys, name):
    check, args = with_student(name, no_return)
    assert said(capsys, check, *args) == (False, ex.RETURNED_NONE.format(name="no_return") + "\n")
    check, args = with_student(name, raises)
    ok, out = said(capsys, check, *args)
    assert (
        not ok
        and out.startswith("❌ Not yet: raises on ")
        and "raised IndexError: list index out of range" in out
    )
    check, args = with_student(name, 42)
    assert said(capsys, check, *args) == (
        False,
        ex.NOT_CALLABLE.format(name="your function", kind="a int") + "\n",
    )


def test_a_gap_found_by_its_marker_is_not_written_even_after_other_lines():
    def half_done(x):
        y = x * 2  # noqa: F841
        ...  # ✏️ your code here

    with pytest.raises(ex.Verdict, match="Not answered yet"):
        ex.call(half_done, 1)
    assert judge.does_nothing(gap) and not judge.does_nothing(no_return)


def test_a_check_that_trips_says_so_in_one_line(capsys):
    @ex.check
    def check_square(f):
        """Right when f squares numbers."""
        return ex.right("squares") if f(3) == 9 else ex.fail("f(3) is not 9")

    assert check_square.__doc__ == "Right when f squares numbers."
    assert said(capsys, check_square, lambda x: x * x) == (True, "✅ Right: squares\n")
    assert said(capsys, check_square, lambda x: x + x) == (False, "❌ Not yet: f(3) is not 9\n")
    ok, out = said(capsys, check_square, lambda x: None + 1)
    assert not ok and out.startswith("❌ Not yet: the check could not use your answer (TypeError")


def test_checks_leave_the_notebooks_random_generators_as_they_were(capsys):
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    expected = torch.rand(3), np.random.rand(3), random.random()
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    nb06.check_accuracy(lambda model, loader: torch.rand(1).item())
    nb04.check_parameter_count(3737474, lambda w: sum(a * b + b for a, b in zip(w, w[1:])))
    capsys.readouterr()
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and random.random() == expected[2]


def test_every_call_draws_fresh_inputs():
    seen = set()

    def spy(model, loader):
        seen.add(len(loader.dataset))
        return 0.5

    for _ in range(6):
        nb06.check_accuracy(spy)
    assert len(seen) > 1


def test_a_right_choice_without_its_explanation_asks_for_one(capsys):
    ok, out = said(capsys, nb04.check_argmax_answer, "(B)")
    assert not ok and out.startswith("✏️ Not answered yet: (b) ") and "now put your explanation" in out
    assert said(capsys, nb04.check_argmax_answer, "b", "...")[1] == out  # the release's string gap
    ok, out = said(capsys, nb09.check_which_figure, "(c)")
    assert not ok and out.startswith(ex.NOT_WRITTEN) and "(So far: your choice is right.)" in out
    ok, out = said(capsys, nb09.check_which_figure, "b")
    assert not ok and out.startswith("❌ Not yet: (b) ") and "Model answer" not in out


# --- answers in any reasonable form --------------------------------------------------------


@pytest.mark.parametrize(
    "value", [0.7, np.float32(0.7), torch.tensor(0.7), torch.tensor([0.7]), np.array(0.7, dtype=np.float16)]
)
def test_one_number_in_any_form_within_its_dtypes_round_off(value):
    assert ex.judge.number(value, "x").close(0.7)
    assert not ex.judge.number(value, "x").close(0.75)


def test_tolerance_follows_the_answers_dtype_and_scale():
    float64 = judge.numbers(np.array([1.0 + 1e-9]), "x")
    assert float64.close([1.0]) and not float64.close([1.0 + 1e-3])
    float32 = judge.numbers(torch.tensor([1000.0]).float() - torch.tensor([999.99993]), "x")
    assert float32.close([0.00007], scale=1000)


@pytest.mark.parametrize("value", [12, np.int64(12), torch.tensor(12), 12.0, torch.tensor([12])])
def test_whole_numbers_in_any_form(value):
    assert judge.whole(value, "count") == 12


@pytest.mark.parametrize("value, why", [(True, "whole number"), ("12", "whole number"), (12.5, "12.5")])
def test_what_is_not_a_whole_number(value, why):
    with pytest.raises(ex.Verdict, match=why):
        judge.whole(value, "count")


@pytest.mark.parametrize("value", ["b", "B", " b ", "(b)", "(B)", "b)", "b.", "'b'", "option b"])
def test_letters_in_any_case_with_or_without_brackets(value):
    assert judge.letter(value, "abcd") == "b"


@pytest.mark.parametrize("value", ["bird", "e", "", "ab", 2])
def test_what_is_not_a_letter(value):
    with pytest.raises(ex.Verdict, match="one letter"):
        judge.letter(value, "abcd")


# --- rules the text states -----------------------------------------------------------------


@pytest.mark.parametrize(
    "shortcut",
    [
        lambda x: torch.softmax(x, 1),
        lambda x: x.softmax(dim=1),
        lambda x: F.softmax(x, dim=1),
        lambda x: torch.nn.Softmax(dim=1)(x),
        lambda x: torch.exp(torch.log_softmax(x, 1)),
        lambda x: torch.special.softmax(x, 1),
    ],
)
def test_a_banned_torch_function_is_seen_however_it_is_reached(shortcut):
    with pytest.raises(ex.Verdict, match="by hand, without torch.softmax"):
        ex.call(shortcut, torch.randn(3, 4), without=nb04.NO_SOFTMAX)
    assert (
        ex.call(
            lambda x: torch.exp(x) / torch.exp(x).sum(1, keepdim=True),
            torch.randn(3, 4),
            without=nb04.NO_SOFTMAX,
        )
        is not None
    )


def test_a_banned_library_helper_is_seen_under_another_name():
    from ffnn_lab import cifar2_indices as pick

    def aliased(targets):
        return pick(targets)

    with pytest.raises(ex.Verdict, match="without ffnn_lab.cifar2_indices"):
        ex.call(aliased, [0, 1, 2], without=nb03.NO_CIFAR2_INDICES)


# --- nothing to copy -----------------------------------------------------------------------


def test_fingerprints_and_sealed_texts_open_only_with_their_answer():
    blob = answers.seal("topic", "b", "why b is right")
    assert answers.unseal("topic", "b", blob) == "why b is right"
    assert answers.unseal("topic", "a", blob) is None and answers.unseal("other", "b", blob) is None
    assert (
        answers.fingerprint("t", 0.1)
        == answers.fingerprint("t", 1 / 10)
        == answers.fingerprint("t", np.float32(0.1))
    )
    assert answers.fingerprint("t", 0.1) != answers.fingerprint("t", 0.2)
    assert answers.main(["fingerprint", "t", "0.1"]) == 0 and answers.main([]) == 2


# literal answers that must not appear in a check module (what `??` in Jupyter would show), as
# regular expressions
GIVEAWAYS = {
    nb02: [r"\{0, 1, 8, 9\}", r"[\"']ship[\"']", r"[\"']truck[\"']"],
    nb03: [r"\{0, 1, 2\}", "AUTOMOBILE"],
    nb04: ["3737474", "3_737_474", r"a \* b \+ b"],
    nb06: [r"math\.ceil", "// b", "divmod"],
    nb07: [
        r"1 / \(1 \+",
        r"(?<![\d.])0\.10*(?!\d)",
        r"\* 1024",
        r"view\(-1, 3, 32, 32\)",
        r"m\[1, 1\] / m\[1\]",
    ],
    nb09: [r"/ \(1 - p\)", r"answer == .c", r"\(1 - accuracy\) / n"],
}


@pytest.mark.parametrize("module", GIVEAWAYS, ids=lambda m: m.__name__)
def test_check_modules_do_not_spell_the_answers(module):
    source = inspect.getsource(module)
    assert [g for g in GIVEAWAYS[module] if re.search(g, source)] == []


def test_notebook_modules_are_reachable_from_the_package():
    assert ffnn_lab.exercises is ex and ex.nb03 is nb03
    with pytest.raises(AttributeError):
        ex.not_a_module  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        ex.nb99  # noqa: B018
