"""Grading reports: one row per submission as report.csv, report.md and report.json, and one feedback
file per student, all written atomically.

Text that comes from a submission (its path, an exception message, names in its exported graph) is
data, never the grader's words: it sits in columns of its own (`student_text`), is cleaned of control
characters and capped, cannot start a spreadsheet formula, and in Markdown is shown inside a code
span, where nothing is a link, an e-mail address or markup.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..cache import write_text_atomic
from ..errors import InvalidInput

MAX_TEXT = 300
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~<>#!:/@.])")
FEEDBACK_TAIL = 40  # lines of a notebook's output shown in its feedback
KERNEL_CHATTER = ("[IPKernelApp] WARNING | Kernel is running over TCP",)  # the grader's plumbing, not theirs
# what must agree between shards before their reports can be merged
SHARD_SETTINGS = (
    "class",
    "data",
    "fingerprint",
    "pass mark",
    "reference (untouched exercise)",
    "ceiling",
    "timeout",
    "sandbox",
    "sandbox user",
    "seccomp",
    "control groups",
    "GPU",
)


@dataclass
class Row:
    """One submission's result; accuracy, reference, threshold and margin are fractions (None when
    not scored). error is the grader's reason; student_text is quoted from the submission."""

    submission: str
    student: str
    status: str  # graded | review | failed | not graded
    passed: bool
    accuracy: float | None = None
    reference: float | None = None
    threshold: float | None = None  # the pass mark
    margin: float | None = None  # accuracy - reference
    seconds: float = 0.0
    sandbox: str = ""  # "bubblewrap" or "UNSANDBOXED"
    error: str = ""
    student_text: str = ""
    log: str = ""
    device: str = ""  # where `model` was trained, as the submission's export says
    cpu_seconds: float | None = None
    memory_peak_mb: float | None = None


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """text on one line: control and other non-printable characters escaped, at most limit characters."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return out if len(out) <= limit else out[: limit - 1] + "…"


def csv_cell(text: str) -> str:
    """A text cell no spreadsheet reads as a formula (OWASP's advice: a leading apostrophe)."""
    text = clean(text)
    return "'" + text if text.startswith(FORMULA_START) else text


def md_cell(text: str) -> str:
    """The grader's own text as one plain cell of a Markdown table (no markup, no links)."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(clean(text), quote=False))


def md_quote(text: str) -> str:
    """Text from a submission as a code span in a table cell: shown as typed, never a link or markup."""
    if not text:
        return ""
    inner = clean(text).replace("`", "'").replace("|", "\\|")
    return f"from the submission: `{inner}`"


def _percent(value: float | None, signed: bool = False) -> str:
    return "" if value is None else f"{value:+.2%}" if signed else f"{value:.2%}"


def _csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([f.name for f in fields(Row)])
    for r in rows:
        cells = []
        for f in fields(Row):
            value = getattr(r, f.name)
            if isinstance(value, str):
                cells.append(csv_cell(value))
            elif isinstance(value, float) and f.name in ("accuracy", "reference", "threshold", "margin"):
                cells.append(f"{value:.4f}")
            else:
                cells.append("" if value is None else value)
        writer.writerow(cells)
    return buf.getvalue()


def _markdown(rows: list[Row], header: dict) -> str:
    passed = sum(r.passed for r in rows)
    graded = sum(r.status in ("graded", "review") for r in rows)
    review = sum(r.status == "review" for r in rows)
    md = [
        "# Grading report",
        "",
        f"{passed} of {len(rows)} passed ({graded} graded"
        + (f", {review} to review by hand)." if review else ")."),
        "",
        *(f"- {md_cell(k)}: {md_cell(str(v))}" for k, v in header.items()),
        "",
        "| submission | student | status | passed | accuracy | reference | margin | seconds | sandbox "
        "| why |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        why = " · ".join(part for part in (md_cell(r.error), md_quote(r.student_text)) if part)
        md.append(
            f"| {md_cell(r.submission)} | {md_cell(r.student)} | {r.status} | {'yes' if r.passed else 'no'} "
            f"| {_percent(r.accuracy)} | {_percent(r.reference)} | {_percent(r.margin, True)} "
            f"| {r.seconds:.0f} | {r.sandbox} | {why} |"
        )
    return "\n".join(md) + "\n"


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    except OSError as e:  # disk full, folder gone: say where, rather than a traceback
        raise InvalidInput(
            f"cannot write the report {path}: {e.strerror}; make room or choose another report folder"
        ) from None


def write_reports(rows: list[Row], report_dir: Path, header: dict) -> list[Path]:
    """report.csv, report.md and report.json in report_dir, each written whole or not at all."""
    report = {"header": header, "rows": [asdict(r) for r in rows]}
    texts = {
        "report.csv": _csv(rows),
        "report.md": _markdown(rows, header),
        "report.json": json.dumps(report, indent=1) + "\n",
    }
    for name, text in texts.items():
        _write(report_dir / name, text)
    return [report_dir / name for name in texts]


def feedback(row: Row, log: str, budget_seconds: float) -> str:
    """What one student is told: the result, the accuracy against the bar, why, and the end of the
    notebook's output. Plain text: what the submission said is quoted, never interpreted."""
    verdict = {
        "graded": "PASSED" if row.passed else "NOT PASSED",
        "review": "TO BE REVIEWED BY YOUR INSTRUCTOR",
        "failed": "NOT GRADED: the notebook did not produce a model that could be scored",
        "not graded": "NOT GRADED YET",
    }.get(row.status, row.status)
    lines = [f"Grading feedback for {clean(row.student)} ({clean(row.submission)})", "", f"Result: {verdict}"]
    if row.accuracy is not None:
        lines.append(f"Accuracy of your final model on the private images: {row.accuracy:.2%}")
    if row.threshold is not None:
        bar = f"Pass mark: {row.threshold:.2%}"
        if row.reference is not None:
            bar += f" (the untouched exercise scored {row.reference:.2%} on the same images)"
        lines.append(bar)
    if row.error:
        lines.append(f"Why: {clean(row.error)}")
    if row.student_text:
        lines.append(f"Details, from your notebook: {clean(row.student_text)}")
    lines.append(f"Time: {row.seconds:.0f} s (the limit for the whole notebook is {budget_seconds:g} s)")
    tail = [ln for ln in log.strip().splitlines() if not ln.startswith(KERNEL_CHATTER)][-FEEDBACK_TAIL:]
    if tail:
        lines += ["", f"The last {len(tail)} lines of your notebook's output:", *tail]
    return "\n".join(lines) + "\n"


def write_feedback(row: Row, report_dir: Path, log: str, budget_seconds: float) -> Path:
    """report_dir/feedback/<submission>.txt for one student, written whole or not at all."""
    # the slug alone could collide ("ann smith" and "ann_smith"): the exact path's digest keeps them apart
    digest = hashlib.sha256(row.submission.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in row.submission)[:100] + f"-{digest}.txt"
    path = report_dir / "feedback" / name
    _write(path, feedback(row, log, budget_seconds))
    return path


def read_rows(report_json: Path) -> tuple[dict, list[Row]]:
    """The header and rows of a report.json this grader wrote; InvalidInput with the reason otherwise."""
    try:
        report = json.loads(report_json.read_text())
        return report["header"], [Row(**r) for r in report["rows"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InvalidInput(
            f"{report_json} is not a grading report ({type(e).__name__}: {e}); "
            "give the --report-dir folders of `ffnn-lab grade` runs"
        ) from None


def merge(report_dirs: list[Path], out: Path, partial: bool = False) -> list[Row]:
    """Combine the reports of a class's shards into one. Refused: shards graded with different
    settings (data, pass mark, reference, ceiling, timeout, sandbox), a submission graded twice, and,
    unless partial, a missing shard."""
    reports = [(d, *read_rows(d / "report.json")) for d in report_dirs]
    first_dir, first, _ = reports[0]
    for d, h, _ in reports[1:]:
        differ = [k for k in SHARD_SETTINGS if h.get(k) != first.get(k)]
        if differ:
            raise InvalidInput(
                f"{d} was graded with other settings than {first_dir} ({', '.join(differ)} differ): "
                "grade every shard with the same command, changing only --shard"
            )
    shards = [str(h.get("shard", "1/1")) for _, h, _ in reports]
    total = {s.split("/")[-1] for s in shards}
    if len(total) != 1:
        raise InvalidInput(f"these reports come from different splits of the class: {', '.join(shards)}")
    n = int(total.pop())
    missing = [f"{k}/{n}" for k in range(1, n + 1) if f"{k}/{n}" not in shards]
    if len(set(shards)) != len(shards):
        raise InvalidInput(f"the same shard is given twice: {', '.join(sorted(shards))}")
    if missing and not partial:
        raise InvalidInput(
            f"shard(s) {', '.join(missing)} are missing: merge every shard's report, or pass --partial "
            "to merge what is there (the report then says which shards are missing)"
        )
    rows = [r for _, _, rs in reports for r in rs]
    expected = first.get("submissions in the class")
    if not missing and expected is not None and len(rows) != expected:
        raise InvalidInput(
            f"the shards hold {len(rows)} submissions but the class has {expected}: a shard was graded "
            "on another list of notebooks; grade every shard from the same list"
        )
    seen = [r.submission for r in rows]
    twice = sorted({s for s in seen if seen.count(s) > 1})
    if twice:
        raise InvalidInput(f"these submissions appear in more than one report: {', '.join(twice[:5])}")
    rows.sort(key=lambda r: r.submission)
    header = {k: v for k, v in first.items() if k != "shard"}
    header["merged from"] = ", ".join(map(str, report_dirs))
    if missing:
        header["PARTIAL"] = f"shard(s) {', '.join(missing)} missing: this report is not the whole class"
    for d in report_dirs:  # each row's log and feedback travel with it
        for folder in ("logs", "feedback"):
            if (d / folder).is_dir():
                shutil.copytree(d / folder, out / folder, dirs_exist_ok=True)
    write_reports(rows, out, header)
    return rows
