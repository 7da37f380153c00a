"""grader stats: the class's figures from SQL over each student's latest run, the terminal summary,
the self-contained HTML page (rendered in a real browser) and the errors, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from grader.cli import cli
from grader.errors import GradebookError
from grader.gradebook import Gradebook, database_url
from grader.reports.analytics.page import render_stats_html
from grader.reports.analytics.readonly import ReadOnlyGradebook
from grader.reports.analytics.stats import class_stats, normalise_message
from grader.results import CheckResult, SubmissionResult

import browser
import classgen


def test_numbers_in_messages_are_normalised_but_not_digits_in_names():
    assert normalise_message("dx: 3 / 12 differ") == normalise_message("dx: 5 / 12 differ") == "dx: # / # differ"
    assert (normalise_message("grads['W1'][0, 2]: -1.5e-07 (yours), 0.5 (expected); 33.3% of conv2d")
            == "grads['W1'][#, #]: # (yours), # (expected); #% of conv2d")
    assert normalise_message("loss is nan, expected inf (rtol=1e-06)") == "loss is #, expected # (rtol=#)"


def test_the_figures_are_those_of_each_students_latest_run(gradebook_url):
    generated = classgen.generate(gradebook_url, students=300)
    latest = list(generated.latest.values())
    assert generated.runs == 400 and len(latest) == 300  # a third of the class submitted twice
    with ReadOnlyGradebook(gradebook_url) as gradebook:
        stats = class_stats(gradebook, "generated")

    scores = np.array([r.score for r in latest])
    assert (stats.students, stats.max_score, stats.ungraded) == (300, classgen.MAX_SCORE, 4)
    assert stats.full_marks == sum(r.score == r.max_score for r in latest)
    assert stats.scores.median == pytest.approx(np.median(scores))
    assert stats.scores.mean == pytest.approx(scores.mean())
    assert sum(b.count for b in stats.scores.histogram) == 300

    for check in stats.checks:
        outcomes = Counter(next(c for c in r.checks if c.name == check.name).status for r in latest)
        assert (check.runs, check.passed, check.failed, check.errors, check.timeouts) == (
            300, outcomes["passed"], outcomes["failed"], outcomes["error"], outcomes["timeout"]), check.name
        reasons = Counter((c.reason or "raised") for r in latest for c in r.checks
                          if c.name == check.name and c.status in ("error", "timeout") and c.reason != "submission_error")
        assert check.reasons == dict(reasons)
    assert [c.name for c in stats.checks] == [name for name, _, _ in classgen.CHECKS]
    assert {c.visibility for c in stats.checks if c.name.startswith("hidden")} == {"hidden"}
    assert set(stats.most_failed[:2]) == {"public_03", "hidden_03"} and len(stats.most_failed) == 5

    # Failure messages: one group per kind, whatever its numbers; counts add up to the failures.
    groups = {g.pattern: g for g in stats.failures["public_03"]}
    failures = [c for r in latest for c in r.checks if c.name == "public_03" and c.status != "passed"]
    assert sum(g.count for g in groups.values()) == len(failures)
    differ = [c for c in failures if c.message.startswith("dx: not close")]
    pattern = "dx: not close (rtol=#, atol=#): # / # elements (#%) differ"
    assert groups[pattern].count == len(differ) and len({c.message for c in differ}) > 1
    example = generated.latest[groups[pattern].example_student]
    assert next(c for c in example.checks if c.name == "public_03").message == groups[pattern].example_message

    late = [r for r in latest if r.days_late > 0]
    assert (stats.lateness.late, stats.lateness.on_time) == (len(late), 300 - len(late))
    assert stats.lateness.total_penalty == pytest.approx(sum(r.penalty for r in latest))
    assert stats.grading_seconds.maximum == pytest.approx(max(r.duration for r in latest))


EVE = "<script>alert(1)</script>"


def _small_class(db: Path) -> Path:
    """Three students; one with an id and a message that try to be HTML."""
    def result(student, statuses, *, late=0.0, penalty=0.0, messages=None):
        checks = [CheckResult(name, 1.0 if status == "passed" else 0.0, 1.0, status, (messages or {}).get(name, ""),
                              visibility=visibility, reason="crashed" if status == "error" else None)
                  for (name, visibility), status in zip([("forward", "public"), ("backward", "hidden")], statuses)]
        score = sum(c.score for c in checks) - penalty
        return SubmissionResult(student=student, assignment="demo", file=f"{student}.py", content_hash=student,
                                score=score, max_score=2.0, status="graded", error=None, checks=checks, duration=0.5,
                                days_late=late, penalty=penalty)

    with Gradebook.open(str(db)) as gradebook:
        gradebook.record(result("ann", ["failed", "failed"], messages={"forward": "out: 3 / 12 differ",
                                                                       "backward": "dx: 1 / 4 differ"}))
        gradebook.record(result("ann", ["passed", "passed"]))  # her latest run
        gradebook.record(result("bob", ["failed", "error"], late=1.5, penalty=0.0,
                                messages={"forward": "out: 5 / 12 differ", "backward": "the process crashed"}))
        gradebook.record(result(EVE, ["failed", "failed"],
                                messages={"forward": "out: 7 / 12 differ", "backward": "dx: <img src=x onerror=alert(2)>"}))
    return db


def test_the_terminal_summary(tmp_path):
    db = _small_class(tmp_path / "g.db")
    out = CliRunner().invoke(cli, ["stats", "demo", "--db", str(db)], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[:3] == [
        "demo: 3 students (latest run each), 1 with full marks, 0 not gradable",
        "Scores of 2: median 0 (middle half 0–1), mean 0.667, lowest 0, highest 2",
        "Late: 1 (0 penalised, 0 points in all); grading took a median 0.50 s per submission"]
    rows = [line for line in out.output.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == ["forward", "backward"]
    assert rows[0].split("│")[3].strip() == "1/3 (33%)" and "2× out: # / # differ" in rows[0]
    assert rows[1].split("│")[3].strip() == "1/3 (33%)" and "1× dx: <img src=x onerror=alert(#)>" in rows[1]
    assert len(rows) == 2


def test_json_for_pipelines(tmp_path):
    db = _small_class(tmp_path / "g.db")
    out = CliRunner().invoke(cli, ["stats", "demo", "--db", str(db), "--json"], catch_exceptions=False)
    data = json.loads(out.output)
    assert data["students"] == 3 and data["most_failed"] == ["forward", "backward"]
    forward = data["failures"]["forward"]
    assert forward[0]["pattern"] == "out: # / # differ" and forward[0]["count"] == 2
    # the example: the first student by name among those with the most common exact message
    assert forward[0]["example_student"] == EVE and forward[0]["example_message"] == "out: 7 / 12 differ"
    assert data["checks"][1]["reasons"] == {"crashed": 1}


def test_the_page_is_self_contained_and_escapes_student_text(tmp_path):
    db = _small_class(tmp_path / "g.db")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    page = tmp_path / "report.html"
    out = CliRunner().invoke(cli, ["stats", "demo", "--db", str(db), "--out", str(page)], catch_exceptions=False)
    assert out.exit_code == 0 and out.output.endswith(f"wrote {page}\n")
    html = page.read_text()
    assert "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "dx: &lt;img src=x onerror=alert(2)&gt;" in html
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in html
    assert html.count('src="data:image/png;base64,') == 5 and "http://" not in html and "https://" not in html
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # read, never written


def test_the_browser_shows_every_plot_and_fetches_nothing_but_the_page(tmp_path):
    generated = tmp_path / "g.db"
    classgen.generate(database_url(str(generated)), students=40)
    with ReadOnlyGradebook(str(generated)) as gradebook:
        page = render_stats_html(class_stats(gradebook, "generated")).encode()
    shown = browser.render(page, tmp_path)
    assert shown.title == "generated: the class at a glance"
    assert len(shown.images) == 5
    assert all(i["png"] and i["complete"] and i["width"] == 700 and i["height"] >= 200 for i in shown.images)
    assert shown.scripts == 0 and shown.text_length > 1000
    assert shown.requests == ["/harness.html", "/check.js", "/page.html"]


def test_the_request_log_would_catch_a_page_that_fetches(tmp_path):
    # The control for the test above: a page without the policy that loads an image is seen doing it.
    shown = browser.render(b'<!DOCTYPE html><title>t</title><link rel="icon" href="data:,"><img src="/pixel.png">',
                           tmp_path)
    assert "/pixel.png" in shown.requests and shown.images[0]["width"] == 0


def test_stats_never_write_and_say_so_to_the_database(gradebook_url):
    with Gradebook(gradebook_url) as gradebook:
        gradebook.record(SubmissionResult(student="ann", assignment="demo", file="ann.py", content_hash="h", score=1.0,
                                          max_score=1.0, status="graded", error=None))
    with ReadOnlyGradebook(gradebook_url) as gradebook:
        with pytest.raises(Exception, match="(?i)read.?only"), gradebook.engine.begin() as connection:
            connection.execute(text("DELETE FROM students"))
        assert gradebook.require_grades("demo") == 1


def test_a_missing_gradebook_or_an_assignment_without_grades_is_one_line(tmp_path):
    missing = CliRunner().invoke(cli, ["stats", "demo", "--db", str(tmp_path / "typo.db")])
    assert missing.exit_code == 1
    assert missing.output == (f"GradebookError: no gradebook at {tmp_path / 'typo.db'}; grade something first "
                              "(grader grade demo ...)\n")
    assert not (tmp_path / "typo.db").exists()
    db = _small_class(tmp_path / "g.db")
    none = CliRunner().invoke(cli, ["stats", "perceptron", "--db", str(db)])
    assert none.exit_code == 1
    assert none.output == f"GradebookError: the gradebook {db} has no grades for 'perceptron' (it has: demo)\n"
    with pytest.raises(GradebookError, match="is not a gradebook"):
        (tmp_path / "junk.db").write_text("not sqlite at all, but long enough to look like a header" * 20)
        ReadOnlyGradebook(str(tmp_path / "junk.db"))
