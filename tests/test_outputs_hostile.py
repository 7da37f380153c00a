"""Every output neutralises student text for its medium: terminal, CSV, JSON, JUnit XML.

The results here are built by hand as an old gradebook row could hold them: text that was
never cleaned (ESC, BEL, NUL, CR, lone surrogates), ids made to be formulas, rich markup and
newlines that try to forge extra lines.
"""

import csv
import io
import json
import math
import os
import re
import xml.etree.ElementTree as ET
import xml.parsers.expat

import pytest
from rich.console import Console

from grader.reports import terminal
from grader.reports.export import csv_cell, grade_table, to_csv, to_json
from grader.reports.junit import junit_xml, xml_text
from grader.results import CheckResult, Note, SubmissionResult, Where
from grader.text import valid_unicode

INVALID_UTF8_ID = os.fsdecode(b"ann\xff\xfeo")  # a file stem that was not UTF-8, as Python decodes it
SHOWN_ID = valid_unicode(INVALID_UTF8_ID)  # how every output shows it
FORMULA_IDS = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\t=1+1", "\r=1+1", " =cmd|' /C calc'!A0"]
HOSTILE_TEXT = "\x1b[31mred\x1b[0m \x1b]8;;http://evil\x07link\x1b]8;;\x07 bell\x07 nul\x00 cr\rx [red]x[/red] " \
               "[link=http://evil]click[/link] :smile: <script>alert(1)</script> \ud800 line1\nline2"


def hostile_result(student: str, **fields) -> SubmissionResult:
    checks = [CheckResult("step_is_strict_at_zero", 0.0, 1.0, "failed", HOSTILE_TEXT,
                          description="desc \x1b[2J[bold]x[/bold]",
                          where=Where("cell 2\x1b[1m, line 1", cell=2, line=1, source="x = 1\x07")),
              CheckResult(f"check_{student[:5]}\x00", float("nan"), 2.0, "error", "raised\x00\x1b[5m"),
              CheckResult("hidden", 1.0, 1.0, "passed", "", visibility="hidden")]
    base = dict(student=student, assignment="perceptron", file=f"/subs/{student}\x1b[2J.py", content_hash="h",
                score=1.0, max_score=4.0, status="graded", error=None, checks=checks,
                notes=[Note("cell 3: NameError\nforged note: full marks\x1b[32m")], submitted_at_source="mtime")
    return SubmissionResult(**{**base, **fields})


def rendered(renderable_or_call, highlight: bool = False) -> str:
    """What a colour terminal receives (rich's own styles included)."""
    buffer = io.StringIO()
    out = Console(file=buffer, force_terminal=True, color_system="truecolor", width=200, highlight=highlight)
    renderable_or_call(out)
    return buffer.getvalue()


RICH_SGR = re.compile(r"\x1b\[[0-9;]*m")


def assert_terminal_safe(text: str) -> None:
    without_styles = RICH_SGR.sub("", text)  # rich's own colours; nothing else may remain
    assert "\x1b" not in without_styles, repr(without_styles[:300])
    for control in ("\x07", "\x00", "\r", "\x08", "\ud800"):
        assert control not in text
    assert "\x1b]8" not in text  # no hyperlink from [link=...]
    assert "[red]x[/red]" in without_styles and "[link=http://evil]click[/link]" in without_styles
    assert ":smile:" in without_styles  # emoji codes stay text


def test_terminal_feedback_prints_student_text_literally_and_without_control_bytes():
    result = hostile_result("ann\x1b[31m")
    text = rendered(lambda out: terminal.feedback(out, result, hidden_checks=2))
    assert_terminal_safe(text)
    plain = RICH_SGR.sub("", text)
    assert "step_is_strict_at_zero (0/1)" in plain and "<script>alert(1)</script>" in plain
    assert "line1\n" in plain  # a message keeps its own lines, indented under its check
    assert "forged note: full marks" in plain and "• cell 3: NameError" in plain


def test_terminal_tables_strip_control_bytes_and_markup_from_ids_and_problems():
    results = [hostile_result(s) for s in ("[red]ann[/red]", "bob\x1b]0;title\x07", INVALID_UTF8_ID)]
    results[1].error = HOSTILE_TEXT
    results[1].status = "error"
    text = rendered(lambda out: out.print(terminal.summary_table(results, "Perceptron [bold]x[/bold]")))
    assert_terminal_safe(text.replace("[red]ann[/red]", "") + "[red]x[/red] [link=http://evil]click[/link] :smile:")
    plain = RICH_SGR.sub("", text)
    assert "[red]ann[/red]" in plain and "Perceptron [bold]x[/bold]" in plain and SHOWN_ID in plain


def test_student_text_is_never_highlighted_even_on_a_highlighting_console():
    result = hostile_result("ann")
    result.checks[0].message = "got 3.14 at /tmp/x http://x.org True"
    text = rendered(lambda out: terminal.feedback(out, result), highlight=True)
    assert "     got 3.14 at /tmp/x http://x.org True\n" in text  # no colour codes inside the message


@pytest.mark.parametrize("student", FORMULA_IDS)
def test_csv_cells_that_could_start_a_formula_get_a_quote(student):
    cell = csv_cell(student)
    assert cell.startswith("'") and cell[1:].lstrip(" ").startswith(("=", "+", "-", "@"))
    assert "\t" not in cell and "\r" not in cell


def test_csv_numbers_stay_numbers_and_ordinary_text_is_untouched():
    assert csv_cell(-2.5) == -2.5 and csv_cell(0) == 0 and csv_cell(float("nan")) == "" and csv_cell(None) == ""
    assert csv_cell("ann") == "ann" and csv_cell("Smith, Ann") == "Smith, Ann" and csv_cell("    Points") == "    Points"
    assert csv_cell("a\nb") == "a b" and csv_cell("a\nb", multiline=True) == "a\nb"
    assert csv_cell("＝1+1").startswith("'")  # the full-width equals sign some locales read as "="


def test_csv_export_of_hostile_rows_reads_back_as_text_one_row_per_student():
    students = FORMULA_IDS + [INVALID_UTF8_ID, "x" * 255, "line1\nline2"]
    table = grade_table([hostile_result(s) for s in students])
    text = to_csv(table)
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 1 + len(students) and not table.unplaced
    for row in rows[1:]:
        for cell in row:
            assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")), cell
            assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", cell), repr(cell)
    by_student = {r[0]: r for r in rows[1:]}
    assert "'=HYPERLINK(\"http://x\",\"y\")" in by_student and "'-2" in by_student and "'+1" in by_student
    assert SHOWN_ID in by_student and "line1 line2" in by_student
    header = rows[0]
    assert header[:11] == ["student", "score", "max_score", "graded_at", "status", "file", "submitted_at",
                           "submitted_at_source", "days_late", "penalty", "error"]
    assert "step_is_strict_at_zero (max 1)" in header
    assert {r[header.index("submitted_at_source")] for r in rows[1:]} == {"mtime"}
    assert {r[header.index("file")] for r in rows[1:]} >= {SHOWN_ID + ".py", "'-2.py"}  # relative; the escape sequence is gone


def test_a_row_that_cannot_be_built_is_listed_not_dropped():
    broken = hostile_result("bob")
    broken.checks = None  # as a corrupt row might come back
    table = grade_table([hostile_result("ann"), broken])
    assert [r["student"] for r in table.rows] == ["ann"]
    assert [(u.student, u.reason.split(" (")[0]) for u in table.unplaced] == \
        [("bob", "its gradebook row could not be read")]


def test_json_export_is_valid_utf8_json_whatever_the_rows_hold():
    table = grade_table([hostile_result(INVALID_UTF8_ID, score=float("inf")), hostile_result("=1+1")])
    data = to_json(table).encode("utf-8")
    text = data.decode("utf-8", errors="strict")  # valid UTF-8, no lone surrogate
    rows = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert rows[0]["student"] == SHOWN_ID and rows[0]["score"] is None
    assert rows[0][f"check_{SHOWN_ID[:5]}\x00"] is None and rows[1]["score"] == 1.0  # NaN became null
    assert rows[1]["student"] == "=1+1"  # JSON is not a spreadsheet: the id as it is


def strict_parse(document: str) -> ET.Element:
    parser = xml.parsers.expat.ParserCreate()
    parser.Parse(document.encode("ascii"), True)  # raises on anything not well-formed
    return ET.fromstring(document.encode("ascii"))


def test_junit_holds_only_characters_xml_allows_and_always_parses():
    results = [hostile_result(s) for s in ("ann\x1b[31m", INVALID_UTF8_ID, "=1\x00\ufffe\uffff")]
    results[2].error = "SyntaxError\x00 at line 1\x0b\x0c"
    document = junit_xml(results, assignment="perceptron\x01")
    assert document.isascii()
    root = strict_parse(document)
    suites = root.findall("testsuite")
    assert {s.get("name") for s in suites} == {"ann[31m", SHOWN_ID, "=1"}
    suites.sort(key=lambda s: s.get("name"))
    failure = suites[0].find("testcase[@name='step_is_strict_at_zero']/failure")
    assert "[red]x[/red]" in failure.get("message") and "<script>" in failure.text
    assert "\ud800" not in failure.text and "\x00" not in failure.text and "\x07" not in failure.text
    assert suites[0].get("name") == "=1" and suites[0].find("system-err").text == "SyntaxError at line 1"
    assert xml_text("a\x00b\ud800c\U0001f600\ufffe") == "ab" + valid_unicode("\ud800") + "c\U0001f600"


def test_hostile_text_fixture_really_holds_what_the_tests_strip():
    # The assertions above would pass vacuously if the fixture lost its bytes.
    assert "\x1b" in HOSTILE_TEXT and "\x07" in HOSTILE_TEXT and "\x00" in HOSTILE_TEXT and "\ud800" in HOSTILE_TEXT
    assert math.isnan(hostile_result("a").checks[1].score)
