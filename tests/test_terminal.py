"""What ``grader check`` prints on a terminal: wrapped at its width with a hanging indent, marks in
their own column, nothing highlighted, student text literal. Rendered into recording consoles of
several widths, from real graded files and from a hand-made result with hostile text."""

from __future__ import annotations

import io
import re

import pytest
from rich.cells import cell_len
from rich.console import Console

from grader.reports import terminal
from grader.results import CheckResult, Note, SubmissionResult, Where

from conftest import SAMPLES

WIDTHS = (40, 60, 100)
MARK_LINE = re.compile(r"^ [✓✗⏱] \S")
SGR = re.compile(r"\x1b\[[0-9;]*m")


def render(result, width: int, *, color_system=None, highlight: bool = False, hidden: int = 0) -> str:
    out = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=color_system,
                  highlight=highlight, record=True)
    terminal.feedback(out, result, hidden_checks=hidden)
    return out.export_text(styles=False) if color_system is None else out.file.getvalue()


def blocks(text: str) -> dict[str, list[str]]:
    """Each check's lines (its mark line first), by the check name's first word on the mark line."""
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if MARK_LINE.match(line):
            current = line[3:].split()[0]
            found[current] = [line]
        elif current is not None and line.startswith("   "):
            found[current].append(line)
        else:
            current = None
    return found


def words(lines: list[str]) -> list[str]:
    return " ".join(lines).split()


@pytest.fixture(scope="module")
def graded(perceptron_grader):
    return {name: perceptron_grader.grade_file(SAMPLES / "perceptron" / name, "ada")
            for name in ("bug_update_sign.py", "correct_nb.ipynb", "bug_syntax_error.py")}


LONG_NAME = "a_check_whose_name_is_much_longer_than_any_narrow_terminal_could_show_on_one_line"
HOSTILE = ("perceptron_update(w=[1, 2, -1], x=[1, 0, 1], y=1) returned ([0, 2, -2], True); (d,) step(0) 3.14 "
           "[red]not red[/red] [link=http://evil]click[/link] :smile: \x1b[31mred?\x1b[0m "
           "/a/very/long/path/without/any/space/at/all/that/must/be/folded/somewhere/inside/it.py")


def hand_made() -> SubmissionResult:
    checks = [CheckResult("step_is_strict_at_zero", 1.0, 1.0, "passed", "", description="step(0) is 0 (z > 0)."),
              CheckResult(LONG_NAME, 0.0, 2.0, "failed", HOSTILE, description="Shapes (d,) and (n, d) for 12 inputs.",
                          where=Where("In [12], line 3", 4, 3, "return w - x  # [bold]mine[/bold]")),
              CheckResult("x", 0.0, 1.0, "timeout", "step() did not finish within the 10 s time limit of this check")]
    return SubmissionResult("ada", "perceptron", "ada.ipynb", "h", 1.0, 4.0, "graded", None, checks,
                            notes=[Note("code cell 2: NameError: name 'sns' is not defined (code cell 2, line 1). "
                                        "sns comes from the plotting import that failed (code cell 1): plots are "
                                        "not available while grading.", Where("code cell 2, line 1", 3, 1, "sns.despine()"))])


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_line_fits_the_width_and_continues_under_its_indent(graded, width):
    for result in [hand_made(), *graded.values()]:
        text = render(result, width, hidden=9)
        lines = text.splitlines()
        assert all(cell_len(line) <= width for line in lines), [l for l in lines if cell_len(l) > width]
        assert all(line == line.rstrip() for line in lines)  # no padding to the width
        for name, block in blocks(text).items():
            check = next(c for c in result.checks if c.name.startswith(name))
            head = next((i for i, line in enumerate(block) if line.startswith(" " * 5)), len(block))
            # The name, points and description: continuation lines under the name, never under the mark.
            assert all(re.match(r"^   \S", line) for line in block[1:head]), block
            # The message, then the line it points at: every line five columns in, nothing lost.
            assert all(line.startswith(" " * 5) for line in block[head:]), block
            shown = [line for line in block[head:]]
            pointer = next((i for i, line in enumerate(shown) if line.startswith("     ↳ ")), len(shown))
            assert squeezed("".join(shown[:pointer])) == squeezed(terminal.plain(check.message).plain)
            if check.where is not None:
                assert squeezed("".join(shown[pointer:])) == squeezed(f"↳ {check.where.label}: {check.where.source}")
                assert all(line.startswith(" " * 7) for line in shown[pointer + 1:])


@pytest.mark.parametrize("width", WIDTHS)
def test_marks_stay_in_their_column_whatever_the_names_length(width):
    text = render(hand_made(), width)
    marks = [line for line in text.splitlines() if line[1:2] in ("✓", "✗", "⏱") and line[:1] == " "]
    assert [line[:3] for line in marks] == [" ✓ ", " ✗ ", " ⏱ "]
    long_block = next(block for name, block in blocks(text).items() if LONG_NAME.startswith(name) and len(name) > 1)
    assert squeezed("".join(long_block)).startswith("✗" + LONG_NAME + "(0/2)—Shapes(d,)and(n,d)")


def test_a_real_failing_check_wraps_at_60_columns_exactly_so(graded):
    text = render(graded["bug_update_sign.py"], 60, hidden=9)
    assert blocks(text)["update_on_each_case"] == [
        " ✗ update_on_each_case (0/3) — perceptron_update: no change",
        "   when right (also at w·x = 0), w + x for a missed 1, w - x",
        "   for a missed 0.",
        "     perceptron_update(w=[1, 2, -1], x=[1, 0, 1], y=1)",
        "     returned ([0, 2, -2], True); expected ([2, 2, 0],",
        "     True): w·x = 0, so predict(w, x) = step(0) = 0, but y =",
        "     1: a mistake, and new_w = w + x (a missed 1 moves w",
        "     towards x). Hint: the signs are swapped: add x for a",
        "     missed 1, subtract it for a missed 0"]
    assert text.splitlines()[-2:] == ["When graded, 9 more hidden check(s) of the same functions", "run too."]


def test_notes_and_the_file_error_wrap_under_their_text_and_show_the_line(graded):
    notes = render(graded["correct_nb.ipynb"], 60).split("Notes on your file (grading went on regardless):\n")[1]
    assert notes.splitlines()[:9] == [
        "   • code cell 1: IPython syntax not run: %matplotlib",
        "     inline; !pip install numpy",
        "   • code cell 8: ModuleNotFoundError: No module named",
        "     'seaborn' (code cell 8, line 1). Plots are not",
        "     available while grading (seaborn is not installed",
        "     here), so the rest of this cell did not run; the rest",
        "     of your submission was graded.",
        "     ↳ code cell 8, line 1: import seaborn as sns  # a plot,",
        "       while I work on it"]
    error = render(graded["bug_syntax_error.py"], 40)
    assert error.splitlines()[-3:] == ["✗ SyntaxError at line 5: expected ':'", "  ↳ line 5: def step(z)",
                                      "Nothing could be graded: fix this first."]


def test_student_text_is_literal_and_nothing_in_a_sentence_is_highlighted():
    text = render(hand_made(), 60)
    flat = " ".join(text.split())
    assert "[red]not red[/red]" in flat and "[link=http://evil]click[/link]" in flat and ":smile:" in flat
    assert "red?" in flat and "\x1b" not in text and "[bold]mine[/bold]" in flat
    # In colour, on a console that would highlight: only our own styles (the marks, the header) have codes.
    coloured = render(hand_made(), 60, color_system="truecolor", highlight=True)
    for line in coloured.splitlines()[2:]:
        without_marks = line.replace("\x1b[32m✓\x1b[0m", "").replace("\x1b[31m✗\x1b[0m", "").replace(
            "\x1b[31m⏱\x1b[0m", "").replace("\x1b[2m     ↳ \x1b[0m", "").replace("\x1b[33mNotes on your file\x1b[0m", "")
        assert "\x1b" not in without_marks, repr(line)
    assert "(d,)" in coloured and "step(0)" in coloured and "3.14" in coloured


def test_outside_a_terminal_each_message_is_one_line_whole(graded):
    buffer = io.StringIO()
    out = terminal.console()
    out.file = buffer
    terminal.feedback(out, graded["bug_update_sign.py"])
    lines = buffer.getvalue().splitlines()
    assert ("     perceptron_update(w=[1, 2, -1], x=[1, 0, 1], y=1) returned ([0, 2, -2], True); expected ([2, 2, 0], "
            "True): w·x = 0, so predict(w, x) = step(0) = 0, but y = 1: a mistake, and new_w = w + x (a missed 1 moves "
            "w towards x). Hint: the signs are swapped: add x for a missed 1, subtract it for a missed 0") in lines
