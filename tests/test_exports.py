"""``grader export`` to LMS gradebooks (Canvas, Moodle, Blackboard) and as CSV/JSON, from a real
gradebook file, with rosters laid out as each LMS's own gradebook export writes them."""

import csv
import io
import json
import re

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.gradebook import Gradebook
from grader.results import CheckResult, SubmissionResult

from conftest import write

# Canvas's gradebook export (Grades -> Export): a BOM, the student columns, assignment columns
# "title (id)", read-only totals, the "    Points Possible" row, a "Manual Posting" row.
CANVAS_ROSTER = (
    "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Perceptron updates (4242),Quiz 1 (111),Current Score\n"
    ",,,,,Manual Posting,,\n"
    "    Points Possible,,,,,32.00,10.00,(read only)\n"
    '"Smith, Ann",1001,s-1,asmith,Period 2,,9.00,90\n'
    '"Jones, Bob",1002,s-2,bjones@school.edu,Period 2,,8.00,80\n'
    '"Lee, Emma",1003,S-3,elee,Period 3,,,\n'
    '"Kim, Kai",1004,s-4,kkim,Period 3,,,\n'
    '"Park, Min",1005,s-5,mpark1,Period 3,,,\n'
    '"Park, Min",1006,s-6,mpark2,Period 3,,,\n'
    '"=cmd|\' /C calc\'!A0, Eve",1007,s-7,eve,Period 3,,,\n'
    '"Student, Test",9999,,,Period 2,,,\n'
)
# Moodle's grade export (plain text file): its default user fields, then the grade items.
MOODLE_ROSTER = ('"First name","Last name","ID number","Institution","Department","Email address",'
                 '"Assignment: Perceptron updates (Real)","Last downloaded from this course"\n'
                 'Ann,Smith,s-1,Uni,CS,ann.smith@school.edu,-,1700000000\n'
                 'Bob,Jones,s-2,Uni,CS,BJones@School.edu,-,1700000000\n')
# Blackboard's Grade Center download: UTF-16 with a BOM, tab-delimited, column titles with their points and ids.
BLACKBOARD_ROSTER = ("Last Name\tFirst Name\tUsername\tStudent ID\tLast Access\tAvailability\t"
                     "Perceptron updates [Total Pts: 32 Score] |887766\tQuiz [Total Pts: 10 Score] |5\n"
                     "Smith\tAnn\tasmith\ts-1\t2026-09-01\tYes\t\t9\n"
                     "Jones\tBob\tbjones\ts-2\t2026-09-01\tYes\t\t8\n")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def result(student: str, score: float, file: str = "", **fields) -> SubmissionResult:
    checks = [CheckResult("step_is_strict_at_zero", min(score, 1.0), 1.0, "passed" if score >= 1 else "failed",
                          "" if score >= 1 else "step(0.0): 1 (yours), expected 0"),
              CheckResult("train_on_random_separable_data", max(score - 1, 0.0), 31.0,
                          "passed" if score >= 32 else "failed", "secret input <b>[1, 2]</b>", visibility="hidden")]
    return SubmissionResult(student=student, assignment="perceptron", file=file or f"/course/subs/{student}.py",
                            content_hash=f"h-{student}", score=score, max_score=32.0, status="graded", error=None,
                            checks=checks, **fields)


@pytest.fixture
def gradebook(tmp_path):
    """A real gradebook file holding the given results."""
    def make(*results) -> str:
        db = str(tmp_path / "g.db")
        with Gradebook.open(db) as book:
            for r in results:
                book.record(r, title="Perceptron updates")
        return db
    return make


def canvas_import(text: str) -> dict:
    """What Canvas's gradebook importer reads from a file (the rules of its GradebookImporter):
    a header whose first cells are Student and ID, SIS User ID and SIS Login ID columns before
    Section, assignment columns 'title (id)', the row whose first cell holds 'Points Possible',
    then students matched by ID."""
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert "Student" in header[0] and "ID" in header[1] and len(header) > 3
    assert re.match(r"SIS\s+User\s+ID", header[2]) and re.match(r"SIS\s+Login\s+ID", header[3])
    assert "Section" in header[4]
    assignments = {i: re.fullmatch(r"(.*?)\s*\((\d+)\)", h).groups() for i, h in enumerate(header[5:], start=5)}
    points = next(r for r in rows[1:] if "Points Possible" in r[0])
    students = {r[1]: {assignments[i][1]: r[i] for i in assignments} for r in rows[1:] if "Points Possible" not in r[0]}
    return {"assignments": assignments, "points": {assignments[i][1]: points[i] for i in assignments},
            "grades": students}


def test_canvas_import_file_is_laid_out_as_canvas_reads_it(gradebook, tmp_path):
    roster = write(tmp_path / "canvas.csv", CANVAS_ROSTER)
    db = gradebook(result("1001", 29.0),                # the Canvas user id (a Canvas download's layout)
                   result("BJones@School.edu", 32.0),   # SIS Login ID, whatever the case
                   result("S-3", 16.5),                 # SIS User ID
                   result("kimkai", 0.0),               # Canvas's download name "lastfirst"
                   result("Eve Cmd", 3.0, file="/x/eve.py"))  # no match: the name is not hers
    done = run("export", "perceptron", "--db", db, "--format", "canvas", "--roster", roster, "--allow-unmatched")
    assert done.exit_code == 0
    assert done.stderr == "warning: Eve Cmd: not exported: matches no row of the roster\n"
    assert done.stdout == (
        "Student,ID,SIS User ID,SIS Login ID,Section,Perceptron updates (4242)\n"
        "    Points Possible,,,,,32.0\n"
        '"Smith, Ann",1001,s-1,asmith,Period 2,29.0\n'
        '"Jones, Bob",1002,s-2,bjones@school.edu,Period 2,32.0\n'
        '"Lee, Emma",1003,S-3,elee,Period 3,16.5\n'
        '"Kim, Kai",1004,s-4,kkim,Period 3,0.0\n')
    imported = canvas_import(done.stdout)
    assert imported["assignments"] == {5: ("Perceptron updates", "4242")} and imported["points"] == {"4242": "32.0"}
    assert imported["grades"] == {"1001": {"4242": "29.0"}, "1002": {"4242": "32.0"}, "1003": {"4242": "16.5"},
                                  "1004": {"4242": "0.0"}}


def test_canvas_refuses_to_export_while_a_grade_cannot_be_placed(gradebook, tmp_path):
    roster = write(tmp_path / "canvas.csv", CANVAS_ROSTER)
    db = gradebook(result("1001", 29.0), result("Min Park", 10.0), result("=HYPERLINK(\"http://x\",\"y\")", 1.0),
                   result("elee", 5.0), result("1003", 6.0))
    out = tmp_path / "canvas_import.csv"
    done = run("export", "perceptron", "--db", db, "--format", "canvas", "--roster", roster, "--out", out)
    assert done.exit_code == 1 and done.stdout == "" and not out.exists()
    assert done.stderr.splitlines() == [  # in the gradebook's order of students
        "warning: 1003: not exported: shares roster line 6 (Lee, Emma) with another graded id (1003 and elee): "
        "keep one grade per student",
        'warning: =HYPERLINK("http://x","y"): not exported: matches no row of the roster',
        "warning: Min Park: not exported: matches 2 roster rows by name (lines 8, 9)",
        "warning: elee: not exported: shares roster line 6 (Lee, Emma) with another graded id (1003 and elee): "
        "keep one grade per student",
        "ExportError: 4 grade(s) could not be placed (listed above) and nothing was exported; fix the roster or "
        "the ids, or pass --allow-unmatched to export the others"]


def test_canvas_neutralises_a_roster_name_that_is_a_formula(gradebook, tmp_path):
    roster = write(tmp_path / "canvas.csv", CANVAS_ROSTER)
    done = run("export", "perceptron", "--db", gradebook(result("1007", 2.0)), "--format", "canvas",
               "--roster", roster)
    assert done.stdout.splitlines()[2] == "\"'=cmd|' /C calc'!A0, Eve\",1007,s-7,eve,Period 3,2.0"


def test_canvas_needs_a_roster_and_an_assignment_id(gradebook, tmp_path):
    db = gradebook(result("1001", 29.0))
    missing = run("export", "perceptron", "--db", db, "--format", "canvas")
    assert missing.exit_code == 1 and missing.stderr.startswith("ExportError: a Canvas import needs --roster: ")
    roster = write(tmp_path / "r.csv", "Student,ID,SIS User ID,SIS Login ID,Section\n\"Smith, Ann\",1001,,,\n")
    no_id = run("export", "perceptron", "--db", db, "--format", "canvas", "--roster", roster)
    assert no_id.exit_code == 1 and "pass --column-id ID" in no_id.stderr
    given = run("export", "perceptron", "--db", db, "--format", "canvas", "--roster", roster, "--column-id", "77")
    assert given.stdout.splitlines()[0].endswith(",Perceptron updates (77)")
    bad = run("export", "perceptron", "--db", db, "--format", "canvas", "--roster", write(tmp_path / "x.csv", "a,b\n1,2\n"))
    assert bad.exit_code == 1 and bad.stderr.startswith("RosterError: the roster ") and "no column naming students" in bad.stderr


def test_moodle_identifier_grade_and_escaped_feedback(gradebook, tmp_path):
    roster = write(tmp_path / "moodle.csv", MOODLE_ROSTER)
    db = gradebook(result("ann.smith@school.edu", 0.5), result("bjones@school.edu", 32.0))
    done = run("export", "perceptron", "--db", db, "--format", "moodle", "--roster", roster)
    assert done.exit_code == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0] == ["Email address", "Perceptron updates", "Perceptron updates (feedback)"]
    assert rows[1][:2] == ["ann.smith@school.edu", "0.5"] and rows[2][:2] == ["BJones@School.edu", "32.0"]
    assert rows[1][2] == ("0.5 / 32 points.\n✗ step_is_strict_at_zero: step(0.0): 1 (yours), expected 0\n"
                          "✗ train_on_random_separable_data (hidden check)")
    assert "secret" not in done.stdout  # hidden checks by name only
    by_number = run("export", "perceptron", "--db", db, "--format", "moodle", "--roster", roster, "--moodle-id", "idnumber")
    assert [r[0] for r in csv.reader(io.StringIO(by_number.stdout))] == ["ID number", "s-1", "s-2"]
    without_roster = run("export", "perceptron", "--db", gradebook(result("<b>ann</b>", 1.0)), "--format", "moodle",
                         "--moodle-id", "username")
    rows = list(csv.reader(io.StringIO(without_roster.stdout)))
    assert rows[0][0] == "Username" and rows[1][0] == "<b>ann</b>"  # the id as graded; the feedback is HTML-escaped
    no_username = run("export", "perceptron", "--db", db, "--format", "moodle", "--roster", roster, "--moodle-id", "username")
    assert no_username.exit_code == 1 and "roster line 2 has no Username" in no_username.stderr


def test_blackboard_upload_every_field_quoted_column_id_from_the_downloaded_grade_center(gradebook, tmp_path):
    roster = tmp_path / "gc.xls"
    roster.write_bytes(BLACKBOARD_ROSTER.encode("utf-16"))  # as Blackboard downloads it
    db = gradebook(result("Ann Smith", 30.0), result("s-2", 12.25))
    done = run("export", "perceptron", "--db", db, "--format", "blackboard", "--roster", roster)
    assert done.exit_code == 0, done.stderr
    assert done.stdout_bytes == (b'"Username","Perceptron updates [Total Pts: 32 Score] |887766"\r\n'
                                 b'"asmith","30.0"\r\n"bjones","12.25"\r\n')
    plain = run("export", "perceptron", "--db", db, "--format", "blackboard")
    assert plain.exit_code == 1 and "pass --column-id ID" in plain.stderr
    given = run("export", "perceptron", "--db", db, "--format", "blackboard", "--column-id", "12")
    assert given.stdout.splitlines()[1] == '"Ann Smith","30.0"'


def test_csv_paths_relative_to_the_graded_folder_and_time_sources(gradebook, tmp_path):
    db = gradebook(result("ann", 32.0, file="/course/subs/ann/perceptron.py", submitted_at="2026-10-01T20:00:00+00:00",
                          submitted_at_source="manifest"),
                   result("bob", 1.0, file="/course/subs/bob.ipynb", submitted_at="2026-10-03T08:00:00+00:00",
                          submitted_at_source="mtime", days_late=1.4, penalty=8.0))
    rows = list(csv.DictReader(io.StringIO(run("export", "perceptron", "--db", db).stdout)))
    assert [(r["student"], r["file"], r["submitted_at_source"]) for r in rows] == \
        [("ann", "ann/perceptron.py", "manifest"), ("bob", "bob.ipynb", "mtime")]
    assert rows[0]["step_is_strict_at_zero (max 1)"] == "1.0" and rows[1]["train_on_random_separable_data (max 31)"] == "0.0"
    elsewhere = list(csv.DictReader(io.StringIO(run("export", "perceptron", "--db", db, "--relative-to", "/course").stdout)))
    assert elsewhere[0]["file"] == "subs/ann/perceptron.py"
    as_json = json.loads(run("export", "perceptron", "--db", db, "--format", "json").stdout)
    assert as_json[1]["submitted_at_source"] == "mtime" and as_json[1]["file"] == "bob.ipynb"


def test_export_writes_utf8_files(gradebook, tmp_path):
    db = gradebook(result("zoë", 3.0), result("名前", 4.0))
    out = tmp_path / "grades.csv"
    done = run("export", "perceptron", "--db", db, "--out", out)
    assert done.stderr == f"wrote 2 students to {out}\n"
    assert out.read_bytes().decode("utf-8").splitlines()[1].startswith("zoë,")
