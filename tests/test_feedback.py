"""Feedback students read: reports and annotated notebooks, from a real graded gradebook."""

import html
import shutil
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.reports.feedback import file_stem, write_feedback
from grader.reports.html import render_html
from grader.reports.markdown import render_markdown
from grader.reports.model import build_report
from grader.gradebook import Gradebook
from grader.results import CheckResult, Note, SubmissionResult, Where

from conftest import SAMPLES, write

PERCEPTRON = SAMPLES / "perceptron"

# A student whose step() fails deep inside numpy, via a helper, and who prints HTML.
DEEP_NUMPY = '''\
import numpy as np


def _invert(m):
    return np.linalg.inv(m)


def step(z):
    print("<script>alert('hi')</script>")
    return _invert(np.zeros((2, 2)))
'''
# A student whose import fails: Python's ImportError message names the installed module's path.
IMPORT_ERROR = '''\
def step(z):
    from numpy.linalg import nope
    return nope(z)
'''
# The same failure in a notebook (its second code cell, saved as In [2]: line 2), plus hostile markdown
# and a saved HTML output.
DEEP_STEP_CELL = "def step(z):\n    return np.linalg.inv(np.zeros((2, 2)))"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def deep_notebook(path: Path) -> Path:
    notebook = nbformat.read(PERCEPTRON / "correct_nb.ipynb", as_version=4)
    assert notebook.cells[2].source.startswith("def step(z):")
    notebook.cells[2].source = DEEP_STEP_CELL
    notebook.cells.append(nbformat.v4.new_markdown_cell("Done! <script>alert('markdown')</script>"))
    notebook.cells.append(nbformat.v4.new_code_cell("show()", outputs=[
        nbformat.v4.new_output("display_data", data={"text/html": "<b>saved</b><script>alert('saved output')</script>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "alert('js output')"})]))
    for count, cell in enumerate((c for c in notebook.cells if c.cell_type == "code"), start=1):
        cell.execution_count = count  # saved after running from the top
    nbformat.write(notebook, str(path))
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The perceptron samples and two hostile students graded into one gradebook, with feedback written."""
    root = tmp_path_factory.mktemp("feedback")
    subs = root / "subs"
    shutil.copytree(PERCEPTRON, subs)
    write(subs / "deep_numpy.py", DEEP_NUMPY)
    write(subs / "bad_import.py", IMPORT_ERROR)
    deep_notebook(subs / "deep_nb.ipynb")
    db, out = root / "g.db", root / "out"
    graded = run("grade", "perceptron", subs, "--db", db, "--jobs", "1")
    assert graded.exit_code == 0, graded.output
    written = run("feedback", "perceptron", "--db", db, "--out", out, "--output")
    assert written.exit_code == 0, written.output
    with Gradebook.open(str(db)) as gradebook:
        results = {r.student: r for r in gradebook.latest("perceptron")}
    return SimpleNamespace(root=root, db=db, out=out, results=results, stdout=written.stdout)


def read(graded, name: str) -> str:
    return (graded.out / name).read_text(encoding="utf-8")


def test_every_student_gets_markdown_and_html_with_score_and_marks(graded):
    assert set(graded.results) == {p.stem for p in PERCEPTRON.iterdir()} | {"deep_numpy", "deep_nb", "bad_import"}
    assert f"wrote feedback for {len(graded.results)} student(s)" in graded.stdout
    for student, result in graded.results.items():
        md, page = read(graded, f"{student}.md"), read(graded, f"{student}.html")
        score = f"{result.score:g} / {result.max_score:g} points"
        assert f"**Score: {score}**" in md and f'<span class="score">{score}</span>' in page
        for check in result.checks:
            mark = "✓" if check.status == "passed" else "✗"
            points = f"({check.score:g}/{check.max_score:g})"
            assert f"- {mark} **{check.name}** {points}" in md
            assert f'<span class="mark">{mark}</span> <strong>{check.name}</strong> <span class="points">{points}</span>' in page
    md = read(graded, "bug_step_at_zero.md")
    assert "- ✗ **step_is_strict_at_zero** (0/1) — step(0) is 0: the threshold is strict (z > 0).  \n" \
           "  `step(0.0): 1 (yours), expected 0`\n" in md  # a hard line break, then the message
    assert "- ✓ **all_seven_activations** (3/3)" in md
    assert "- ✗ **xor_never_converges** (0/2) — hidden check, not passed" in md


def test_hidden_checks_show_no_message_and_no_description(graded):
    outputs = {path.name: path.read_text(encoding="utf-8") for path in graded.out.iterdir()}
    checks = [(student, c) for student, r in graded.results.items() for c in r.checks]
    public = {c.message for _, c in checks if c.visibility == "public"}
    hidden = [(student, c) for student, c in checks if c.visibility == "hidden"]
    # (a hidden message that a public check also gave, e.g. "modified its argument w in place", is no secret)
    failed = [(student, c) for student, c in hidden if c.message and c.message not in public]
    assert len(failed) >= 10  # the samples fail plenty of hidden checks, with messages
    for student, check in failed:
        for name, text in outputs.items():
            for form in (check.message, html.escape(check.message)):
                assert form not in text, (student, check.name, name)
    for _, check in hidden:
        for name, text in outputs.items():
            assert check.description not in text and html.escape(check.description) not in text, (check.name, name)
    # e.g. the hidden input's shape in bug_step_at_zero's step_on_random_matrices
    assert "for z of shape (4, 5)" in graded.results["bug_step_at_zero"].checks[8].message
    assert all("shape (4, 5)" not in text for text in outputs.values())


def test_student_errors_point_at_the_students_line_never_at_numpy_or_the_grader(graded):
    deep = {c.name: c for c in graded.results["deep_numpy"].checks}
    assert deep["step_is_strict_at_zero"].message == \
        "step() raised LinAlgError: Singular matrix (deep_numpy.py, line 5)"
    assert deep["step_is_strict_at_zero"].status == "error"
    nb = {c.name: c for c in graded.results["deep_nb"].checks}
    assert nb["step_is_strict_at_zero"].message == "step() raised LinAlgError: Singular matrix (In [2], line 2)"
    for student, result in graded.results.items():
        if student == "bad_import":
            continue  # see test_import_error_messages_name_no_install_paths
        for text in [c.message for c in result.checks] + [n.text for n in result.notes] + [result.error or ""]:
            assert "grader/" not in text and "site-packages" not in text and "numpy/" not in text, text
    md = read(graded, "deep_numpy.md")
    assert "  ↳ at **deep_numpy.py, line 5**: `return np.linalg.inv(m)`" in md
    page = read(graded, "deep_numpy.html")
    assert ('step() raised LinAlgError: Singular matrix (<mark class="where">deep_numpy.py, line 5</mark>)'
            '<span class="excerpt">↳ deep_numpy.py, line 5: <code>return np.linalg.inv(m)</code></span>') in page


def test_reports_name_no_install_paths_even_when_an_import_error_does(graded):
    for path in graded.out.iterdir():
        text = path.read_text(encoding="utf-8")
        assert "site-packages" not in text and ".venv" not in text, path.name
    md = read(graded, "bad_import.md")
    assert ("`step() raised ImportError: cannot import name 'nope' from 'numpy.linalg' (numpy/linalg/__init__.py) "
            "(bad_import.py, line 2)`") in md
    assert "↳ at **bad_import.py, line 2**: `from numpy.linalg import nope`" in md


def test_import_error_messages_name_no_install_paths(graded):
    message = graded.results["bad_import"].checks[0].message
    assert message.startswith("step() raised ImportError: cannot import name 'nope' from 'numpy.linalg' "
                              "(numpy/linalg/__init__.py)")
    assert "site-packages" not in message and "/work/" not in message


def test_failure_in_a_notebook_links_to_its_cell_in_the_annotated_copy(graded):
    page = read(graded, "deep_nb.html")
    # The label is what Jupyter shows (In [2]); the link goes to the cell by its number among all cells (3).
    assert ('(<a class="where" href="deep_nb.notebook.html#cell-id=cell-3">In [2], line 2</a>)'
            '<span class="excerpt">↳ In [2], line 2: <code>return np.linalg.inv(np.zeros((2, 2)))</code></span>') in page
    assert '<a href="deep_nb.notebook.html">deep_nb.notebook.html</a>' in page
    md = read(graded, "deep_nb.md")
    assert ("↳ at [**In \\[2\\], line 2**](deep_nb.notebook.html#cell-id=cell-3): "
            "`return np.linalg.inv(np.zeros((2, 2)))`") in md
    assert 'id="cell-id=cell-3"' in read(graded, "deep_nb.notebook.html")


def feedback_after(notebook) -> dict[str, str]:
    """The id of each original cell followed by a feedback cell -> that feedback's source."""
    found = {}
    for before, cell in zip(notebook.cells, notebook.cells[1:]):
        if "grader-feedback" in cell.metadata.get("tags", []):
            found[before.id] = cell.source
    return found


def test_notebook_copy_has_feedback_after_each_graded_functions_cell(graded):
    original = nbformat.read(PERCEPTRON / "correct_nb.ipynb", as_version=4)
    annotated = nbformat.read(graded.out / "correct_nb.notebook.ipynb", as_version=4)
    nbformat.validate(annotated)
    summary = annotated.cells[0]
    assert summary.id == "feedback-summary" and "**Score: 32 / 32 points**" in summary.source
    assert ("`code cell 8: ModuleNotFoundError: No module named 'seaborn' (code cell 8, line 1). Plots are not available "
            "while grading (seaborn is not installed here), so the rest of this cell did not run; the rest of "
            "your submission was graded.`") in summary.source
    kept = [c for c in annotated.cells if "grader-feedback" not in c.metadata.get("tags", [])]
    assert [c.source for c in kept] == [c.source for c in original.cells]
    assert [c.id for c in kept] == [f"cell-{n}" for n in range(1, len(original.cells) + 1)]
    after = feedback_after(annotated)
    assert set(after) == {"cell-3", "cell-4", "cell-5", "cell-6", "cell-7", "cell-8"}
    assert after["cell-3"].startswith("#### Feedback on `step`: 4 / 4 points")
    assert "**step_is_strict_at_zero** (1/1)" in after["cell-3"]
    assert "- ✓ **step_on_random_matrices** (1/1) — hidden check" in after["cell-3"]
    assert "**all_seven_activations** (3/3)" in after["cell-4"] and "**unknown_activation_raises**" in after["cell-4"]
    assert "**update_on_each_case** (3/3)" in after["cell-7"]  # its name does not say perceptron_update
    for check in ("lecture_worked_example", "xor_never_converges", "max_epochs_respected"):
        assert f"**{check}**" in after["cell-8"]

    failing = feedback_after(nbformat.read(graded.out / "deep_nb.notebook.ipynb", as_version=4))["cell-3"]
    assert "- ✗ **step_is_strict_at_zero** (0/1)" in failing
    assert "`step() raised LinAlgError: Singular matrix (In [2], line 2)`" in failing
    assert "↳ at [**In \\[2\\], line 2**](#cell-id=cell-3)" in failing
    assert "- ✗ **step_on_random_matrices** (0/1) — hidden check, not passed" in failing

    page = read(graded, "correct_nb.notebook.html")
    assert page.startswith("<!DOCTYPE html>") and "Feedback on <code>step</code>: 4 / 4 points" in page
    assert 'id="cell-id=cell-8"' in page and 'id="cell-id=feedback-cell-8"' in page


def test_student_controlled_text_is_escaped(graded):
    page = read(graded, "deep_numpy.html")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt;" in page  # the student's output, shown as text
    assert "<details><summary>Show the output</summary>" in page
    md = read(graded, "deep_numpy.md")
    assert "```text\n<script>alert('hi')</script>" in md  # inside a fenced block: shown, not run
    notebook_page = read(graded, "deep_nb.notebook.html")
    for script in ("alert('markdown')", "alert('saved output')", "alert('js output')"):
        assert f"<script>{script}" not in notebook_page and f"{script}</script>" not in notebook_page
    assert "&lt;script&gt;alert('markdown')&lt;/script&gt;" in notebook_page
    assert "<b>saved</b>" in notebook_page  # harmless HTML in outputs survives


def test_student_option_writes_only_that_student(graded, tmp_path):
    result = run("feedback", "perceptron", "--db", graded.db, "--out", tmp_path / "one", "--student", "correct")
    assert result.exit_code == 0 and "wrote feedback for 1 student(s)" in result.stdout
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["correct.html", "correct.md"]


def test_printed_output_is_left_out_unless_asked_for(graded, tmp_path):
    # Code that hidden checks call can print their inputs: the output is opt-in (--output).
    run("feedback", "perceptron", "--db", graded.db, "--out", tmp_path, "--student", "deep_numpy")
    assert "alert" not in (tmp_path / "deep_numpy.html").read_text()
    assert "What your code printed" not in (tmp_path / "deep_numpy.md").read_text()


def test_unknown_student_is_a_one_line_error(graded, tmp_path):
    result = run("feedback", "perceptron", "--db", graded.db, "--out", tmp_path / "x", "--student", "nobody")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"GradebookError: the gradebook {graded.db} has no grades for student 'nobody' "
                                    "in 'perceptron' (graded: bad_import, bug_bias_first, ")
    assert result.stderr.endswith(" and 6 more)\n")
    assert not (tmp_path / "x").exists()


def test_missing_gradebook_or_grades_are_clear_errors(graded, tmp_path):
    missing = run("feedback", "perceptron", "--db", tmp_path / "none.db", "--out", tmp_path / "x")
    assert missing.exit_code == 1
    assert missing.stderr == (f"GradebookError: no gradebook at {tmp_path / 'none.db'}; "
                              "grade something first (grader grade perceptron ...)\n")
    other = run("feedback", "conv", "--db", graded.db, "--out", tmp_path / "x")
    assert other.exit_code == 1 and "has no grades for 'conv'" in other.stderr
    assert not (tmp_path / "none.db").exists() and not (tmp_path / "x").exists()


def test_a_notebook_changed_since_grading_gets_a_report_but_no_annotated_copy(graded, tmp_path):
    result = replace(graded.results["correct_nb"], content_hash="0" * 64)
    [written] = write_feedback([result], tmp_path, title="Perceptron updates")
    assert [p.name for p in written.paths] == ["correct_nb.md", "correct_nb.html"]
    assert written.warnings == [f"correct_nb: no annotated notebook: {result.file} has changed since it was graded"]
    assert "notebook.html" not in (tmp_path / "correct_nb.md").read_text()


def result_with(**fields) -> SubmissionResult:
    checks = [CheckResult("step_is_strict_at_zero", 0.0, 1.0, "failed", "step(0.0): 1 (yours), expected 0"),
              CheckResult("secret", 0.0, 2.0, "failed", "secret input [1, 2, 3]", visibility="hidden",
                          description="uses the secret")]
    base = dict(student="ada", assignment="perceptron", file="/nowhere/ada.py", content_hash="", score=0.0,
                max_score=3.0, status="graded", error=None, checks=checks)
    return SubmissionResult(**{**base, **fields})


def test_lateness_is_shown_when_present():
    late = build_report(result_with(score=27.0, max_score=32.0, submitted_at="2026-09-21T12:00:00+02:00",
                                    days_late=1.5, penalty=3.0))
    md, page = render_markdown(late), render_html(late)
    assert "**Score: 27 / 32 points (30 before the late penalty)**" in md
    assert "**Late:** Submitted 2026-09-21T12:00:00+02:00, 1.5 days late: 3 points deducted." in md
    assert '<p class="late"><strong>Late:</strong> Submitted 2026-09-21T12:00:00+02:00, 1.5 days late: ' \
           "3 points deducted.</p>" in page
    hours = render_markdown(build_report(result_with(days_late=0.25)))
    assert "**Late:** Submitted 6.0 hours late." in hours
    on_time = build_report(result_with())
    assert "Late" not in render_markdown(on_time) and 'class="late"' not in render_html(on_time)
    assert "secret input" not in render_markdown(on_time) + render_html(on_time)
    assert "uses the secret" not in render_markdown(on_time) + render_html(on_time)


def test_hostile_student_ids_and_messages_cannot_inject_markup():
    hostile = result_with(student="<img src=x onerror=alert(1)>", notes=[Note("line 3: `x` [a](javascript:y) <b>")],
                          output="\x1b[31m<script>x()</script>\x1b[0m\x07")
    report = build_report(hostile, include_output=True)
    page, md = render_html(report), render_markdown(report)
    assert "```text\n<script>x()</script>\n```" in md and "&lt;script&gt;x()&lt;/script&gt;" in page
    assert "<img" not in page and "<b>" not in page and "<script>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "# perceptron: feedback for &lt;img src=x onerror=alert(1)>" in md
    assert "- ``line 3: `x` [a](javascript:y) <b>``" in md  # a code span: shown literally
    assert "\x1b" not in md and "\x07" not in md and "\x1b" not in page
    assert file_stem("<img src=x>") .startswith("_img_src_x_-") and file_stem("../etc") != "../etc"
    assert file_stem("ada.lovelace") == "ada.lovelace"


def test_printed_output_is_capped():
    report = build_report(result_with(output="x" * 10_000 + "TAIL"), include_output=True)
    assert len(report.output) == 4000 and report.output_omitted == 6004
    assert "<details><summary>Show the output (first 4000 characters; 6004 more not shown)</summary>" \
        in render_markdown(report)
    assert "TAIL" not in render_html(report)


def test_places_come_from_the_where_fields_not_from_the_message_text():
    where = Where("In [7], line 3", cell=4, line=3, source="return x / 0")  # the label is not the cell's number
    checks = [CheckResult("step_is_strict_at_zero", 0.0, 1.0, "error", "step() raised ZeroDivisionError (In [7], line 3)",
                          where=where),
              CheckResult("mentions_a_place", 0.0, 1.0, "failed", "see cell 9, line 1 (yours)")]
    report = build_report(result_with(checks=checks, file="/nowhere/ada.ipynb",
                                      notes=[Note("code cell 1: NameError: x", Where("code cell 1", cell=2))]))
    md, page = render_markdown(report, notebook_href="nb.html"), render_html(report, notebook_href="nb.html")
    assert "↳ at [**In \\[7\\], line 3**](nb.html#cell-id=cell-4): `return x / 0`" in md
    assert ('(<a class="where" href="nb.html#cell-id=cell-4">In [7], line 3</a>)'
            '<span class="excerpt">↳ In [7], line 3: <code>return x / 0</code></span>') in page
    # A message that only mentions a place in its words points nowhere: nothing parses messages.
    assert report.checks[1].message.where is None and "cell-id=cell-9" not in md + page
    assert report.notes[0].where.cell == 2 and '<a class="where" href="nb.html#cell-id=cell-2">code cell 1</a>' in page


def test_lateness_from_a_files_own_time_says_so():
    late = dict(submitted_at="2026-10-02T10:00:00+00:00", days_late=0.5, penalty=1.0)
    from_mtime = build_report(result_with(submitted_at_source="mtime", **late))
    expected = "Submitted 2026-10-02T10:00:00+00:00, 12.0 hours late: 1 point deducted."
    assert "**Late:** " + expected + " (The time is the file's own modification time.)" in render_markdown(from_mtime)
    assert "(The time is the file&#x27;s own modification time.)" in render_html(from_mtime)
    from_manifest = render_markdown(build_report(result_with(submitted_at_source="manifest", **late)))
    assert "**Late:** " + expected + "\n" in from_manifest and "modification time" not in from_manifest


SCHEMA_INVALID_NOTEBOOK = '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "bogus"}]}'


def test_one_broken_row_or_unwritable_file_never_stops_the_others(tmp_path):
    import hashlib
    import os

    bad_nb = write(tmp_path / "subs" / "nb.ipynb", SCHEMA_INVALID_NOTEBOOK)
    digest = hashlib.sha256(bad_nb.read_bytes()).hexdigest()
    long_id = "é" * 127 + "x"  # 255 bytes of UTF-8
    not_utf8 = os.fsdecode(b"ann\xff\xfe")
    broken = result_with(student="broken")
    broken.checks = None  # a row too broken to render
    out = tmp_path / "out"
    (out / "taken.md").mkdir(parents=True)  # a file system that refuses this student's report
    results = [result_with(student="first"), result_with(student="nb", file=str(bad_nb), content_hash=digest),
               result_with(student=long_id), result_with(student=not_utf8), broken,
               result_with(student="gone", file=str(tmp_path / "vanished.ipynb")), result_with(student="taken"),
               result_with(student='"><img src=x onerror=alert(1)>'), result_with(student="last")]
    written = write_feedback(results, out)
    assert len(written) == len(results)
    warnings = {w.student: w.warnings for w in written}
    assert warnings["nb"] and warnings["nb"][0].startswith("nb: no annotated notebook: ") and \
        "is not a readable notebook" in warnings["nb"][0]
    assert warnings["broken"] == ["broken: no feedback written: its result could not be rendered "
                                  "(TypeError: 'NoneType' object is not iterable)"]
    assert warnings["gone"] == [f"gone: no annotated notebook: {tmp_path / 'vanished.ipynb'} is no longer there"]
    assert warnings["taken"] == ["taken: no feedback written: Is a directory"]
    for done in written:
        if done.student in ("broken", "taken"):
            assert not done.paths
            continue
        names = [p.name for p in done.paths]
        assert len(names) == 2 and all(len(n.encode()) <= 255 for n in names), names
        page = (out / names[1]).read_text(encoding="utf-8")
        assert "<img" not in page and "\udcff" not in page
    assert (out / "first.md").is_file() and (out / "last.html").is_file()


def test_feedback_command_with_hostile_rows_writes_everyone(tmp_path):
    db = str(tmp_path / "g.db")
    bad_nb = write(tmp_path / "subs" / "nb.ipynb", SCHEMA_INVALID_NOTEBOOK)
    students = ['=HYPERLINK("http://x","y")', "é" * 127 + "x", "ann\ufffd\ufffd", '"><img src=x onerror=alert(1)>']
    with Gradebook.open(db) as gradebook:
        for student in students:
            gradebook.record(result_with(student=student, file=str(tmp_path / "gone.py")))
        gradebook.record(result_with(student="nb", file=str(bad_nb)))
    done = run("feedback", "perceptron", "--db", db, "--out", tmp_path / "out")
    assert done.exit_code == 0, done.output
    assert done.stdout == f"wrote feedback for 5 student(s) to {tmp_path / 'out'}\n"
    assert done.stderr.startswith("warning: nb: no annotated notebook: ") and done.stderr.count("\n") == 1
    assert len(list((tmp_path / "out").glob("*.html"))) == 5


def test_the_functions_a_check_calls_include_its_batches_but_not_the_harness():
    from grader.reports.source import student_calls

    def a_check(ctx):
        ctx.calls("conv_forward", [(1,)])
        ctx.student.relu(2)
        ctx.calls("run_layer", [(3,)], harness=True)
        ctx.calls("maxpool_forward", [(4,)], harness=False)
        name = "dynamic"
        ctx.calls(name, [])

    assert student_calls(a_check) == ["conv_forward", "relu", "maxpool_forward"]
