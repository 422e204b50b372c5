"""Multiple-choice answers and written explanations: feedback on the option chosen, and a
model answer once the student has chosen right and written their own explanation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .answers import opened
from .judge import Verdict, fail, is_gap, letter, not_written

MIN_WORDS = 6  # asked for two or three sentences: fewer words than this is no explanation yet


@dataclass(frozen=True)
class Sealed:
    """One question's sealed entries: feedback per answer, and the model explanation (sealed
    with the right answer under the topic + "/model")."""

    topic: str
    blobs: tuple[str, ...]

    def entry(self, answer: Any) -> dict | None:
        """The feedback sealed with this answer ({"right": bool, "why": str}), if any."""
        return opened(self.topic, answer, self.blobs)

    def model(self, answer: Any) -> dict | None:
        """The model explanation ({"model": str, "ideas": [[pattern, idea], ...]}), opened
        only by the right answer."""
        return opened(self.topic + "/model", answer, self.blobs)


def judge_choice(question: Sealed, answer: Any, options: str) -> tuple[str, str]:
    """The chosen letter and why it is right; ends the check with why a wrong option is wrong."""
    if is_gap(answer):
        not_written()
    chosen = letter(answer, options)
    entry = question.entry(chosen)
    if entry is None:  # every option has an entry; a missing one is the check's own bug
        raise RuntimeError(f"no feedback sealed for option {chosen!r} of {question.topic}")
    if not entry["right"]:
        fail(f"({chosen}) {entry['why']}")
    return chosen, entry["why"]


def explanation_feedback(question: Sealed, key: Any, explanation: Any, praise: str) -> str:
    """The Right message for an answer whose choice (key) is right: praise, then how the
    student's explanation compares with the model answer, then the model answer itself."""
    model = question.model(key)
    if model is None:
        raise RuntimeError(f"no model answer sealed for {question.topic}")
    if is_gap(explanation) or (isinstance(explanation, str) and not explanation.strip(" .\n")):
        raise Verdict(
            f"✏️ Not answered yet: {praise} That much is right; now put your explanation in "
            "`explanation` (a string) and run this check again: it then shows a model answer."
        )
    if not isinstance(explanation, str):
        fail(f"`explanation` should be text in quotes, but it is a {type(explanation).__name__}")
    words = len(explanation.split())
    if words < MIN_WORDS:
        fail(
            f"`explanation` has {words} word{'s' * (words != 1)}: say why, in two or three "
            "sentences of your own"
        )
    ideas = [(idea, re.search(pattern, explanation, re.IGNORECASE)) for pattern, idea in model["ideas"]]
    found = [idea for idea, hit in ideas if hit]
    missing = [idea for idea, hit in ideas if not hit]
    lines = [praise]
    if found:
        lines.append(f"Your explanation covers: {'; '.join(found)}.")
    if missing:
        lines.append(f"Compare with the model answer, which also says: {'; '.join(missing)}.")
    lines.append(f"Model answer: {model['model']}")
    return "\n".join(lines)
