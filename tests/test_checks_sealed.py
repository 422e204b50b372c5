"""The feedback of choice and fixed-value questions, in plain text, and the sealed form the
check modules read (ffnn_lab/exercises/sealed.py).

To change a text: edit FEEDBACK below, then run `python tests/test_checks_sealed.py`, which
rewrites sealed.py; the test here fails while the two disagree."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEALED = ROOT / "ffnn_lab" / "exercises" / "sealed.py"
sys.path.insert(0, str(ROOT))

from ffnn_lab.exercises import answers  # noqa: E402

# topic: (feedback per answer {answer: (right, why)}, the right answer, the model answer, the key
# ideas of an explanation [pattern, idea])
FEEDBACK: dict[str, tuple[dict, object, str, list[list[str]]]] = {
    "nb04.untrained-98": (
        {
            "a": (
                False,
                "softmax turns any scores into numbers that add up to 1; with random weights the 98% "
                "comes from the initialisation, not from the picture, and the untrained accuracy "
                "measured above is near 50%, not 98%.",
            ),
            "b": (
                True,
                "the numbers only look like probabilities: they are as good as the model behind them, "
                "and an untrained one guesses.",
            ),
            "c": (
                False,
                "flipping the answer of a network with random weights is still a guess, right about "
                "half the time like the original one.",
            ),
            "d": (
                False,
                "softmax makes its outputs add up to 1 whatever the weights are: that is how it is "
                "built, not a sign that the network knows anything about the picture.",
            ),
        },
        "b",
        "(b): softmax turns any scores into numbers between 0 and 1 that add up to 1, so they always "
        "look like probabilities; whether they mean anything depends on the weights. With random "
        "weights the 98% is an accident of initialisation, and the untrained accuracy measured above "
        "is close to 50%. You can act on the most likely label once the model is trained and its "
        "accuracy (better still, its confidence) has been checked on pictures it never trained on. "
        "Even then the most likely label is the best call only when every mistake costs the same: "
        "notebook 07 works out what to do when a missed bird costs more than a false alarm.",
        [
            [
                r"random|untrained|initiali[sz]|not (yet )?trained",
                "with random weights the 98% reflects the initialisation, not the picture",
            ],
            [
                r"add(s|ing)? up to (1|one)|sums? to (1|one)|between 0 and 1|"
                r"look(s)? like (a )?probabilit|softmax",
                "softmax makes any scores look like probabilities",
            ],
            [
                r"\btrained|validat|test|measur|unseen|never (seen|saw)|new (pictures|images)",
                "act on it once a trained model's accuracy has been measured on pictures it never saw",
            ],
            [
                r"cost|expensive|price|(every|all) mistakes",
                "even then the most likely label is the best call only when every mistake costs the same",
            ],
        ],
    ),
    "nb07.threshold": (
        {
            0.1: (
                True,
                "below it saying airplane costs less on average (9p < 1 - p), above it saying bird does.",
            ),
            0.5: (
                False,
                "0.5 is the argmax rule, the best call only when both mistakes cost the same; here a "
                "missed bird costs 9 times more.",
            ),
            0.9: (
                False,
                "the other way round: the costly mistake is missing a bird, so the system should say "
                "bird even when the model is fairly unsure, not only when it is very sure.",
            ),
            0.111: (
                False,
                "close, but that is 1 / 9, the ratio of the costs; the threshold is where the two "
                "expected costs, 9p and 1 - p, are equal.",
            ),
        },
        0.1,
        "No. The argmax minimises the expected number of mistakes, which is the right goal only when "
        "every mistake costs the same. When a missed bird costs nine false alarms, bird is the "
        "cheaper call as soon as p(bird) > 0.1, so at p(bird) = 0.3 the system should say bird "
        "although airplane is more likely. And the rule is only as good as the probabilities: our "
        "network is often 90% sure or more when it is wrong (see the misclassified images above), "
        "so its softmax overstates its confidence; choose the threshold by measuring the cost on "
        "validation images, as mean_cost does, not only from the formula.",
        [
            [r"cost|expensive|price", "the argmax is the best call only when every mistake costs the same"],
            [
                r"threshold|0\.1\b|one in ten|10 ?%|low(er)? prob",
                "with a missed bird at nine false alarms, say bird from p(bird) = 0.1 on",
            ],
            [r"confiden|calibrat|sure|trust", "our network's softmax overstates its confidence"],
            [
                r"validat|measur|mean_cost",
                "so choose the threshold by measuring the cost on validation images",
            ],
        ],
    ),
    "nb09.which-figure": (
        {
            "a": (
                False,
                "the best epoch was picked by looking at those very hold-out figures after every "
                "epoch: that choice makes it the most optimistic figure of all.",
            ),
            "b": (
                False,
                "the recipe was chosen because it scored well on that hold-out, so part of its score "
                "there is luck that was selected for.",
            ),
            "c": (
                True,
                "only a split that played no part in any choice gives an unbiased estimate (with its "
                "own sampling noise).",
            ),
            "d": (
                False,
                "the training accuracy measures how well the network memorised its training images: "
                "notebook 07 showed it near 100% while new images score about 80%.",
            ),
        },
        "c",
        "(c): the hold-out was used to make choices: which ingredients to keep, how many epochs, "
        "which variant of the recipe. Each choice favours whatever happened to score well on these "
        "2,000 images, luck included, so the chosen recipe's hold-out figure (b) carries that luck "
        "with it. Picking the best epoch (a) peeks once more, after every epoch, so it is more "
        "optimistic still, and the training accuracy (d) measures memorisation. The test split (c) "
        "made no choice at all, so its figure is an honest sample of new images, with a sampling "
        "noise of about 0.7 points on 2,000 images (one standard error).",
        [
            [
                r"cho(ice|se|sen|osing)|select|picked|tun(ed|ing)|decid",
                "the hold-out was used to make choices",
            ],
            [
                r"luck|noise|chance|random|accident",
                "a figure used for choosing carries the luck that was selected for",
            ],
            [r"epoch|peek", "the best epoch peeks once more, so it is the most optimistic"],
            [
                r"test|untouched|never (used|seen)|unseen|no (part|choice)|independent",
                "the test split made no choice, so it is an honest estimate",
            ],
        ],
    ),
}


def sealed_entries(topic: str) -> tuple[str, ...]:
    """The sealed blobs of one question: one per answer with feedback, then the model answer."""
    options, key, model, ideas = FEEDBACK[topic]
    blobs = [
        answers.seal(topic, a, json.dumps({"right": ok, "why": why})) for a, (ok, why) in options.items()
    ]
    blobs.append(answers.seal(topic + "/model", key, json.dumps({"model": model, "ideas": ideas})))
    return tuple(blobs)


def render() -> str:
    """sealed.py as it must read for FEEDBACK."""
    lines = [
        '"""Sealed feedback for the choice and fixed-value questions (see answers.py). Generated',
        'from tests/test_checks_sealed.py: edit the texts there and run it, never this file."""',
        "",
        "SEALED: dict[str, tuple[str, ...]] = {",
    ]
    for topic in FEEDBACK:
        lines.append(f'    "{topic}": (')
        for blob in sealed_entries(topic):
            pieces = [blob[i : i + 96] for i in range(0, len(blob), 96)]
            lines.append("        (")
            lines.extend(f'            "{piece}"' for piece in pieces)
            lines.append("        ),")
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def test_the_sealed_module_matches_its_source():
    assert SEALED.read_text() == render(), "sealed.py is stale: run python tests/test_checks_sealed.py"


@pytest.mark.parametrize("topic", FEEDBACK)
def test_every_entry_opens_with_its_own_answer_only(topic):
    from ffnn_lab.exercises.sealed import SEALED as BLOBS

    options, key, _, _ = FEEDBACK[topic]
    for option, (ok, why) in options.items():
        assert answers.opened(topic, option, BLOBS[topic]) == {"right": ok, "why": why}
    assert answers.opened(topic, "zz", BLOBS[topic]) is None
    assert answers.opened(topic + "/model", key, BLOBS[topic])["model"] == FEEDBACK[topic][2]
    wrong = next(o for o, (ok, _) in options.items() if not ok)
    assert answers.opened(topic + "/model", wrong, BLOBS[topic]) is None
    text = SEALED.read_text()
    assert FEEDBACK[topic][2][:40] not in text and options[key][1][:30] not in text


if __name__ == "__main__":
    SEALED.write_text(render())
    print(f"wrote {SEALED}")
