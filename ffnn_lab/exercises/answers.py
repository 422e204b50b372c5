"""Answers kept out of plain sight: the check modules store salted fingerprints of right
answers and feedback sealed with the answer it belongs to, never the answers themselves.

This keeps `??` in Jupyter from showing a solution; it is no lock: anyone may run the checks
with every option, and the self-checks are for learning (only notebook 08 is graded).

For maintainers, to write a new entry:

    python -m ffnn_lab.exercises.answers fingerprint TOPIC ANSWER
    python -m ffnn_lab.exercises.answers seal TOPIC ANSWER '{"right": false, "why": "..."}'
    python -m ffnn_lab.exercises.answers open TOPIC ANSWER BLOB
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from collections.abc import Iterable
from typing import Any

SALT = b"ffnn-lab self-checks, v1"
TAG = 8  # bytes of a sealed text that prove it was opened with the right answer


def normalise(answer: Any) -> str:
    """The form an answer is fingerprinted in: text stripped and lower-cased, numbers rounded
    to three decimals (so 1 / 10, 0.1 and np.float32(0.1) are one answer)."""
    if isinstance(answer, str):
        return answer.strip().lower()
    if isinstance(answer, bool):
        return str(answer).lower()
    try:
        return f"{float(answer):.3f}"
    except (TypeError, ValueError):
        return str(answer)


def _key(topic: str, answer: Any) -> bytes:
    return SALT + b"|" + topic.encode() + b"|" + normalise(answer).encode()


def fingerprint(topic: str, answer: Any) -> str:
    """A salted fingerprint of an answer to one question (topic)."""
    return hashlib.sha256(_key(topic, answer)).hexdigest()[:16]


def _stream(key: bytes, size: int) -> bytes:
    blocks = (hashlib.sha256(key + i.to_bytes(4, "big")).digest() for i in range((size + 31) // 32))
    return b"".join(blocks)[:size]


def seal(topic: str, answer: Any, text: str) -> str:
    """text, readable only by someone who knows the answer it is sealed with."""
    key = _key(topic, answer)
    data = text.encode()
    body = hmac.new(key, data, hashlib.sha256).digest()[:TAG] + data
    return base64.b64encode(bytes(a ^ b for a, b in zip(body, _stream(key, len(body))))).decode()


def unseal(topic: str, answer: Any, blob: str) -> str | None:
    """The text sealed with this answer, or None when blob was sealed with another one."""
    key = _key(topic, answer)
    raw = base64.b64decode(blob)
    body = bytes(a ^ b for a, b in zip(raw, _stream(key, len(raw))))
    tag, data = body[:TAG], body[TAG:]
    if not hmac.compare_digest(tag, hmac.new(key, data, hashlib.sha256).digest()[:TAG]):
        return None
    return data.decode()


def opened(topic: str, answer: Any, blobs: Iterable[str]) -> dict | None:
    """The JSON entry among blobs that this answer opens, or None when it opens none."""
    for blob in blobs:
        text = unseal(topic, answer, blob)
        if text is not None:
            return json.loads(text)
    return None


def main(argv: list[str]) -> int:
    """The maintainers' command line: fingerprint, seal or open an entry."""
    commands = {"fingerprint": 3, "seal": 4, "open": 4}
    if not argv or argv[0] not in commands or len(argv) != commands[argv[0]]:
        print(__doc__)
        return 2
    topic, answer = argv[1], _typed(argv[2])
    if argv[0] == "fingerprint":
        print(fingerprint(topic, answer))
    elif argv[0] == "seal":
        json.loads(argv[3])  # entries are JSON: refuse a typo before it is sealed
        print(seal(topic, answer, argv[3]))
    else:
        print(unseal(topic, answer, argv[3]))
    return 0


def _typed(answer: str) -> Any:
    # the checks fingerprint numbers as numbers: "0.1" on the command line means 0.1
    try:
        return float(answer)
    except ValueError:
        return answer


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
