"""``grader leaderboard``: best runs ranked in SQL (SQLite and PostgreSQL), pseudonyms, escaping, read-only."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.course.assignment import get_assignment
from grader.course.leaderboard import LeaderboardSpec, Metric, Requirement, leaderboard_spec
from grader.errors import AssignmentError
from grader.gradebook import Gradebook
from grader.reports.leaderboard import build_leaderboard
from grader.reports.pseudonyms import pseudonym, shown_names
from grader.results import CheckResult, SubmissionResult

from conftest import ROOT

KEY = b"k" * 32
CHECK = "hidden_test_accuracy"
METRICS = (Metric("accuracy", "Accuracy"), Metric("train_seconds", "Training seconds", "asc"),
           Metric("parameters", "Parameters", "asc"))
BOUND = Requirement("within_parameter_bound", "a model over the parameter bound is not ranked")
ANSI_NAME = "\x1b[31mRed\x1b[0m [bold]x[/bold]"


def result(student: str, digest: str, accuracy: float | None, seconds: float = 1.0, parameters: int = 1000, *,
           name: str | None = None, bound: float = 1.0, status: str = "graded") -> SubmissionResult:
    metrics = {} if accuracy is None else {"accuracy": accuracy, "train_seconds": seconds, "parameters": parameters,
                                           "within_parameter_bound": bound}
    checks = [CheckResult(name="model_contract", score=2, max_score=2, status="passed", message="",
                          metrics={"accuracy": 1.0}, labels={"leaderboard_name": "not this check"}),
              CheckResult(name=CHECK, score=5, max_score=10, status="failed", message="", metrics=metrics,
                          labels={"leaderboard_name": name} if name else {})]
    return SubmissionResult(student=student, assignment="lenet", file=f"subs/{student}/{digest}.py",
                            content_hash=digest, score=7, max_score=20, status=status, error=None,
                            checks=checks if status == "graded" else [])


#: Runs in the order they are stored; what each tests is in the comment.
RUNS = [
    result("ann", "a1", 0.95, 3.0, 30_000, name="Ada"),
    result("ann", "a2", 0.97, 5.0, 30_000),               # her best; her newest graded run sets no name
    result("ann", "a3", None, status="error"),            # an error run: neither ranked nor naming
    result("bob", "b1", 0.97, 4.0, 20_000, name="ada"),   # same name as ann's old one, another case
    result("bob", "b2", 0.97, 4.0, 20_000, name="ada"),   # the same metrics again: the earlier run counts
    result("cy", "c1", 0.99, 1.0, 500_000, name="Big", bound=0.0),  # over the bound: not ranked
    result("dee", "d1", 0.97, 4.0, 20_000, name="ADA "),  # equal to bob in everything: same rank
    result("eve", "e1", 0.90, 9.0, 1_000, name=ANSI_NAME),
    result("fay", "f1", 0.97, 4.0, None),                 # no parameter count: after those with one
]


@pytest.fixture
def gradebook(gradebook_url):
    with Gradebook(gradebook_url) as book:
        for run in RUNS:
            book.record(run)
        yield book


def spec(tmp_path, require=BOUND) -> LeaderboardSpec:
    secret = tmp_path / "secret.toml"
    secret.write_text(f'leaderboard_key = "{KEY.decode()}"\n')
    return LeaderboardSpec(check=CHECK, metrics=METRICS, secret=secret, require=require)


def test_each_student_s_best_run_is_chosen_and_ranked_in_sql(gradebook, tmp_path):
    board = build_leaderboard(gradebook, "lenet", spec(tmp_path), title="LeNet")
    rows = [(e.rank, e.values, e.graded_at is not None) for e in board.entries]
    assert rows == [(1, (0.97, 4.0, 20_000.0), True), (1, (0.97, 4.0, 20_000.0), True), (3, (0.97, 4.0, None), True),
                    (4, (0.97, 5.0, 30_000.0), True), (5, (0.9, 9.0, 1000.0), True)]
    runs = gradebook.ranked("lenet", check=CHECK, metrics=[(m.name, m.order) for m in METRICS], require=BOUND.metric)
    assert [(r.student, r.file) for r in runs] == [("bob", "subs/bob/b1.py"), ("dee", "subs/dee/d1.py"),
                                                   ("fay", "subs/fay/f1.py"), ("ann", "subs/ann/a2.py"),
                                                   ("eve", "subs/eve/e1.py")]
    without_bound = gradebook.ranked("lenet", check=CHECK, metrics=[(m.name, m.order) for m in METRICS])
    assert without_bound[0].student == "cy" and without_bound[0].values == (0.99, 1.0, 500_000.0)
    assert gradebook.ranked("lenet", check="no_such_check", metrics=[("accuracy", "desc")]) == []
    latest = {r.student: r for r in gradebook.latest("lenet")}  # labels are stored and read back per check
    assert [c.labels for c in latest["bob"].checks] == [{"leaderboard_name": "not this check"},
                                                        {"leaderboard_name": "ada"}]
    assert latest["bob"].to_json()["checks"][1]["labels"] == {"leaderboard_name": "ada"}


def test_students_appear_under_their_chosen_name_or_a_pseudonym_always_told_apart(gradebook, tmp_path):
    board = build_leaderboard(gradebook, "lenet", spec(tmp_path))
    names = [(e.name, e.chosen, e.student) for e in board.entries]
    bob, dee = (pseudo_suffix("bob"), pseudo_suffix("dee"))
    assert names == [(f"ada · {bob}", True, None), (f"ADA · {dee}", True, None),
                     (pseudonym(KEY, "lenet", "fay"), False, None), (pseudonym(KEY, "lenet", "ann"), False, None),
                     ("Red [bold]x[/bold]", True, None)]
    staff = build_leaderboard(gradebook, "lenet", spec(tmp_path), names=True)
    assert [e.student for e in staff.entries] == ["bob", "dee", "fay", "ann", "eve"]


def pseudo_suffix(student: str) -> str:
    import hmac

    digest = hmac.new(KEY, b"grader leaderboard\0lenet\0" + student.encode(), hashlib.sha256).hexdigest()
    return digest[-4:]


def test_pseudonyms_are_stable_keyed_per_assignment_and_never_show_the_id():
    first = pseudonym(KEY, "lenet", "s-0042")
    assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+ [0-9a-f]{4}", first)
    assert pseudonym(KEY, "lenet", "s-0042") == first
    assert pseudonym(b"another key of 32 characters....", "lenet", "s-0042") != first
    assert pseudonym(KEY, "other", "s-0042") != first and "0042" not in first
    # A chosen name equal to someone's pseudonym, and a hundred students choosing one name.
    chosen = {"ann": None, "bob": first.lower().replace(" ", "  "), **{f"s{i}": "Same" for i in range(100)}}
    chosen["s-0042"] = None
    shown = {student: s.name for student, s in shown_names(KEY, "lenet", chosen).items()}
    assert len(set(shown.values())) == len(shown)
    assert shown["s-0042"].startswith(first + " · ") and shown["bob"].startswith(chosen["bob"] + " · ")
    assert shown["ann"] == pseudonym(KEY, "lenet", "ann")
    assert all(re.fullmatch(r"Same · [0-9a-f]{4,}", shown[f"s{i}"]) for i in range(100))


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def course(tmp_path):
    """The lenet assignment's folder as shipped (its [leaderboard] and secret), in a course of its own."""
    root = tmp_path / "course"
    shutil.copytree(ROOT / "assignments" / "lenet", root / "assignments" / "lenet")
    return root


@pytest.fixture
def sqlite_db(tmp_path):
    db = tmp_path / "gradebook.db"
    with Gradebook.open(str(db)) as book:
        for each in RUNS:
            book.record(each)
    return db


def test_the_table_is_plain_text_and_names_no_id(course, sqlite_db):
    out = run("--course", course, "leaderboard", "lenet", "--db", sqlite_db)
    assert out.exit_code == 0
    lines = out.stdout.splitlines()
    assert "Train a LeNet to a target accuracy: leaderboard" in lines[0]
    assert re.search(r"│\s+1 │ ada · [0-9a-f]{4}\s+│\s+0\.97 │\s+4 │\s+20,000 │", out.stdout)
    assert "Red [bold]x[/bold]" in out.stdout and "\x1b" not in out.stdout  # markup shown, escapes gone
    assert lines[-1] == "Not ranked: a model over the parameter bound is not ranked."
    for student in ("ann", "bob", "dee", "eve", "fay", "subs/"):
        assert student not in out.stdout.replace("Train a LeNet", "")
    assert "Big" not in out.stdout


def test_csv_is_neutralised_and_html_escaped_under_a_csp(course, sqlite_db, tmp_path):
    with Gradebook.open(str(sqlite_db)) as book:
        book.record(result("gus", "g1", 0.5, name='=HYPERLINK("http://x")'))
        book.record(result("hal", "h1", 0.4, name="<img src=x onerror=alert(1)>"))
    csv_text = run("--course", course, "leaderboard", "lenet", "--db", sqlite_db, "--format", "csv").stdout
    assert csv_text.splitlines()[0] == "rank,name,name_chosen,Accuracy,Training seconds,Parameters,graded_at"
    assert "\n6,\"'=HYPERLINK(\"\"http://x\"\")\",true,0.5,1,1000," in csv_text
    staff = run("--course", course, "leaderboard", "lenet", "--db", sqlite_db, "--format", "csv", "--names").stdout
    assert staff.splitlines()[0].endswith(",graded_at,student,file") and ",bob,subs/bob/b1.py" in staff
    page = tmp_path / "board.html"
    written = run("--course", course, "leaderboard", "lenet", "--db", sqlite_db, "--format", "html", "--out", page)
    assert written.exit_code == 0 and written.stderr == f"wrote {page} (7 students)\n"
    text = page.read_text()
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src &#x27;none&#x27;;" in text
    assert "<script" not in text.lower() and "bob" not in text


def test_the_gradebook_is_only_read(course, sqlite_db):
    before = hashlib.sha256(sqlite_db.read_bytes()).hexdigest()
    os.chmod(sqlite_db, stat.S_IRUSR)
    try:
        assert run("--course", course, "leaderboard", "lenet", "--db", sqlite_db).exit_code == 0
    finally:
        os.chmod(sqlite_db, stat.S_IRUSR | stat.S_IWUSR)
    assert hashlib.sha256(sqlite_db.read_bytes()).hexdigest() == before


def test_refusals_are_one_line(course, sqlite_db, tmp_path):
    missing = run("--course", course, "leaderboard", "lenet", "--db", tmp_path / "none.db")
    assert missing.exit_code == 1 and missing.stderr.startswith("GradebookError: no gradebook at ")
    other = run("--course", ROOT, "leaderboard", "perceptron", "--db", sqlite_db)
    assert other.stderr == ("AssignmentError: perceptron has no leaderboard: its assignment.toml has no [leaderboard] "
                            "table\n")
    empty = tmp_path / "empty.db"
    Gradebook.open(str(empty)).close()
    nothing = run("--course", course, "leaderboard", "lenet", "--db", empty)
    assert nothing.stderr == f"GradebookError: the gradebook {empty} has no grades for 'lenet'\n"
    out = run("--course", course, "leaderboard", "lenet", "--db", sqlite_db, "--out", tmp_path / "x")
    assert out.stderr == "UsageError: --out writes csv or html: add --format csv or --format html\n"
    secret = course / "assignments" / "lenet" / "hidden" / "secret.toml"
    secret.write_text('seed = 1\nleaderboard_key = "short"\n')
    short = run("--course", course, "leaderboard", "lenet", "--db", sqlite_db)
    assert short.stderr.startswith(f"AssignmentError: {secret} needs a leaderboard_key string of at least 16 ")


@pytest.mark.parametrize("table, message", [
    ({"check": "x", "metrics": [{"name": "a", "order": "up"}]}, 'metric a: order must be "desc" or "asc", not \'up\''),
    ({"check": "x", "metrics": []}, "needs metrics = ["),
    ({"metrics": [{"name": "a"}]}, 'needs check = "NAME"'),
    ({"check": "x", "metrics": [{"name": "a"}], "secret": "../secret.toml"}, "must be a path under the assignment"),
    ({"check": "x", "metrics": [{"name": "a"}], "secret": "data/key.toml"}, "is in data/, which is released"),
    ({"check": "x", "metrics": [{"name": "a"}], "colour": "red"}, "unknown setting(s) colour"),
])
def test_a_broken_leaderboard_table_is_the_course_s_error(table, message):
    assignment = get_assignment("lenet", ROOT)
    assignment.extra = dict(assignment.extra, leaderboard=table)
    with pytest.raises(AssignmentError, match=re.escape(message)):
        leaderboard_spec(assignment)


def test_lenet_declares_its_leaderboard():
    declared = leaderboard_spec(get_assignment("lenet", ROOT))
    assert declared.check == CHECK and declared.metrics == METRICS and declared.require == BOUND
    assert declared.secret == (ROOT / "assignments" / "lenet" / "hidden" / "secret.toml").resolve()
    assert len(declared.key()) >= 16 and leaderboard_spec(get_assignment("perceptron", ROOT)) is None
