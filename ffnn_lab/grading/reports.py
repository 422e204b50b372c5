"""Grading reports: one row per submission, as report.csv, report.md and report.json, written atomically.

Every text that comes from a submission (its path, its error message) is cleaned before it is written:
control characters escaped, length capped, CSV cells that a spreadsheet would read as a formula
neutralised, Markdown special characters escaped, so no file name or output can add rows, columns,
links or formulas.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..cache import write_text_atomic
from ..errors import InvalidInput

MAX_TEXT = 300
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


@dataclass
class Row:
    """One submission's result; accuracy, reference and margin are fractions (None when not scored)."""

    submission: str
    student: str
    status: str  # graded | failed | not graded
    passed: bool
    accuracy: float | None
    reference: float | None
    threshold: float | None
    margin: float | None
    seconds: float
    sandbox: str  # "bubblewrap" or "UNSANDBOXED"
    error: str = ""
    log: str = ""


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """text on one line: control and other non-printable characters escaped, at most limit characters."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return out if len(out) <= limit else out[: limit - 1] + "…"


def csv_cell(text: str) -> str:
    """A text cell no spreadsheet reads as a formula (OWASP's advice: a leading apostrophe)."""
    text = clean(text)
    return "'" + text if text.startswith(FORMULA_START) else text


def md_cell(text: str) -> str:
    """A text cell that stays one plain cell of a Markdown table."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(clean(text), quote=False))


def _percent(value: float | None, signed: bool = False) -> str:
    return "" if value is None else f"{value:+.2%}" if signed else f"{value:.2%}"


def write_reports(rows: list[Row], report_dir: Path, header: dict) -> list[Path]:
    """report.csv, report.md and report.json in report_dir, each written whole or not at all."""
    report_dir.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([f.name for f in fields(Row)])
    for r in rows:
        writer.writerow(
            [
                csv_cell(r.submission),
                csv_cell(r.student),
                r.status,
                r.passed,
                *("" if v is None else f"{v:.4f}" for v in (r.accuracy, r.reference, r.threshold, r.margin)),
                f"{r.seconds:.1f}",
                r.sandbox,
                csv_cell(r.error),
                csv_cell(r.log),
            ]
        )
    passed = sum(r.passed for r in rows)
    graded = sum(r.status != "not graded" for r in rows)
    md = [
        "# Grading report",
        "",
        f"{passed} of {len(rows)} passed ({graded} graded).",
        "",
        *(f"- {md_cell(k)}: {md_cell(str(v))}" for k, v in header.items()),
        "",
        "| submission | student | status | passed | accuracy | reference | margin | seconds | sandbox "
        "| error |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        md.append(
            f"| {md_cell(r.submission)} | {md_cell(r.student)} | {r.status} | {'yes' if r.passed else 'no'} "
            f"| {_percent(r.accuracy)} | {_percent(r.reference)} | {_percent(r.margin, True)} "
            f"| {r.seconds:.0f} | {r.sandbox} | {md_cell(r.error)} |"
        )
    report = {"header": header, "rows": [asdict(r) for r in rows]}
    paths = [report_dir / "report.csv", report_dir / "report.md", report_dir / "report.json"]
    for path, text in zip(
        paths, (buf.getvalue(), "\n".join(md) + "\n", json.dumps(report, indent=1) + "\n"), strict=True
    ):
        try:
            write_text_atomic(path, text)
        except OSError as e:  # disk full, folder gone: say where, rather than a traceback
            raise InvalidInput(
                f"cannot write the report {path}: {e.strerror}; make room or choose another report folder"
            ) from None
    return paths


def read_rows(report_json: Path) -> tuple[dict, list[Row]]:
    """The header and rows of a report.json this grader wrote; ValueError with the reason otherwise."""
    try:
        report = json.loads(report_json.read_text())
        return report["header"], [Row(**r) for r in report["rows"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InvalidInput(
            f"{report_json} is not a grading report ({type(e).__name__}: {e}); "
            "give the --report-dir folders of `ffnn-lab grade` runs"
        ) from None


def merge(report_dirs: list[Path], out: Path) -> list[Row]:
    """Combine the reports of several shards into one; a submission graded twice is an error."""
    header: dict = {}
    rows: list[Row] = []
    for d in report_dirs:
        h, r = read_rows(d / "report.json")
        header = header or {k: v for k, v in h.items() if k != "shard"}
        rows += r
    seen = [r.submission for r in rows]
    twice = sorted({s for s in seen if seen.count(s) > 1})
    if twice:
        raise InvalidInput(f"these submissions appear in more than one report: {', '.join(twice[:5])}")
    rows.sort(key=lambda r: r.submission)
    write_reports(rows, out, {**header, "merged from": ", ".join(map(str, report_dirs))})
    return rows
