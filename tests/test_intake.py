"""Finding submissions: LMS layouts, one file per student by stated rules, ids and times from the LMS."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from grader.errors import RosterError, UsageError
from grader.intake.gradescope_metadata import parse_metadata
from grader.intake.plan import plan_submissions
from grader.intake.roster import read_roster

import lms
from conftest import ROOT, SAMPLES, write

STUB = (ROOT / "assignments" / "perceptron" / "stub.py").read_bytes()


def plan(*paths, **options):
    return plan_submissions(list(paths), module="perceptron", assignment="perceptron", stub=STUB, **options)


def chosen(result) -> dict:
    """student -> the file graded (as shown), or "ERROR: ..." for a student who gets an error."""
    return {f.student: (f"ERROR: {f.problem}" if f.problem else result.shown[f.path]) for f in result.files}


def left_out(result) -> dict:
    return {i.shown: i.kind for i in result.ignored}


@pytest.fixture
def messy_class(tmp_path) -> Path:
    """A TA's folder of 30 minutes' collecting: what issue 13 found graded wrongly without a word."""
    subs = tmp_path / "subs"
    for path, data in {
        "ann.py": lms.CORRECT, "ann/perceptron.ipynb": lms.CORRECT_NB,  # two places for one student
        "bob/perceptron.py": lms.BUGGY, "bob/perceptron.ipynb": lms.CORRECT_NB,  # both of the module
        "carl/a.py": lms.CORRECT, "carl/b.py": lms.BUGGY,  # two unrelated files
        "dora/perceptron.py": STUB, "dora/perceptron.ipynb": lms.CORRECT_NB,  # the stub left beside her work
        "walt/perceptron.py": lms.CORRECT, "walt/scratch.py": b"x = 1\n",
        "eve/perceptron.py": lms.CORRECT, "eve/copy of perceptron.py": lms.CORRECT,  # the same twice
        "frank/frank.zip": b"PK\x05\x06" + b"\0" * 18,  # only an archive
        "notes.txt": b"to do\n", "frank.zip": b"PK\x05\x06" + b"\0" * 18,
        ".DS_Store": b"\0", "walt/.ipynb_checkpoints/perceptron-checkpoint.ipynb": lms.CORRECT_NB,
    }.items():
        (subs / path).parent.mkdir(parents=True, exist_ok=True)
        (subs / path).write_bytes(data)
    return subs


def test_one_decision_per_student_each_stated_and_every_file_left_out_listed(messy_class):
    result = plan(messy_class)
    assert chosen(result) == {
        "ann": "ERROR: 2 files are each this student's submission (subs/ann.py, subs/ann/perceptron.ipynb): "
               "keep one, delete or move the others, and grade again",
        "bob": "subs/bob/perceptron.py",
        "carl": "ERROR: 2 files could each be the submission (subs/carl/a.py, subs/carl/b.py): keep the one to "
                "grade, named perceptron.py or perceptron.ipynb, delete or rename the others, and grade again",
        "dora": "subs/dora/perceptron.ipynb",
        "eve": "subs/eve/perceptron.py",
        "frank": "ERROR: no .py or .ipynb file was handed in (only subs/frank/frank.zip); submit the module as a "
                 ".py or .ipynb file",
        "walt": "subs/walt/perceptron.py",
    }
    assert left_out(result) == {
        "subs/.DS_Store": "hidden", "subs/notes.txt": "not_a_submission", "subs/frank.zip": "archive",
        "subs/frank/frank.zip": "archive", "subs/bob/perceptron.ipynb": "pair", "subs/dora/perceptron.py": "stub",
        "subs/eve/copy of perceptron.py": "duplicate", "subs/walt/scratch.py": "not_the_submission",
        "subs/walt/.ipynb_checkpoints": "system",
    }
    reasons = {f.student: f.reason for f in result.files}
    assert reasons["bob"] == "in the folder bob/: named after the module perceptron; over perceptron.ipynb beside it"
    assert reasons["dora"] == ("in the folder dora/: named after the module perceptron; "
                               "the unchanged stub beside it left out")
    assert {(n.kind, n.student) for n in result.notices} == {
        ("ambiguous", "ann"), ("ambiguous", "carl"), ("pair", "bob"), ("nothing_to_grade", "frank")}
    errors = {f.student: f for f in result.problems}
    assert errors["carl"].path == messy_class / "carl" and set(errors["carl"].problem_files) == {
        messy_class / "carl" / "a.py", messy_class / "carl" / "b.py"}


def test_a_file_named_on_the_command_line_and_its_folder_count_once(messy_class):
    result = plan(messy_class / "walt", messy_class / "walt" / "perceptron.py", messy_class / "walt" / "perceptron.py")
    assert chosen(result) == {"perceptron": "walt/perceptron.py", "scratch": "walt/scratch.py"}
    assert left_out(result) == {"walt/perceptron.py": "listed_twice", "walt/.ipynb_checkpoints": "system"}
    with pytest.raises(UsageError, match="nothing_here: no such file or folder"):
        plan(messy_class / "nothing_here")


def test_canvas_download_ids_newest_upload_late_flag_and_text_entries(tmp_path):
    result = plan(lms.canvas_zip(tmp_path / "canvas.zip"))
    assert [s.layout for s in result.sources] == ["canvas"]
    assert chosen(result) == {
        "12345": "canvas.unpacked/smithjohn_12345_678950_perceptron-1.py",
        "23456": "canvas.unpacked/lovelaceada_LATE_23456_679001_perceptron.ipynb",
        "34567": "canvas.unpacked/de_la_cruzmaria_34567_679100_perceptron.py",
        "45678": "ERROR: no .py or .ipynb file was handed in (only canvas.unpacked/turingalan_45678_679200_notes.txt);"
                 " submit the module as a .py or .ipynb file",
        "56789": "ERROR: no .py or .ipynb file was handed in (only canvas.unpacked/hopper_grace_56789_text.html); "
                 "submit the module as a .py or .ipynb file",
        "67890": "canvas.unpacked/noetheremmy_67890_679301_perceptron.py",
    }
    files = {f.student: f for f in result.files}
    assert files["12345"].name == "smithjohn" and files["34567"].name == "de_la_cruzmaria"
    assert "the newest upload of perceptron.py" in files["12345"].reason
    older = next(i for i in result.ignored if i.kind == "older")
    assert older.shown == "canvas.unpacked/smithjohn_12345_678901_perceptron.py" and older.student == "12345"
    assert "(Canvas file 678950 after 678901)" in older.reason
    # Canvas says LATE but not when; a Canvas download's file times are when Canvas zipped it.
    late, on_time = files["23456"], files["34567"]
    assert (late.late_by_lms, late.submitted_at, late.submitted_at_source) == (True, None, None)
    assert (on_time.late_by_lms, on_time.submitted_at, on_time.use_file_time) == (False, None, False)
    assert [n.student for n in result.notices if n.kind == "late_without_time"] == ["23456"]
    assert left_out(result)["canvas.unpacked/noetheremmy_67890_679300_frank.zip"] == "archive"


def test_moodle_download_participants_and_their_folders(tmp_path):
    result = plan(lms.moodle_zip(tmp_path / "moodle.zip"))
    assert [s.layout for s in result.sources] == ["moodle"]
    shown = chosen(result)
    assert shown["1001"] == "moodle.unpacked/Ada Lovelace_1001_assignsubmission_file_/perceptron.py"
    assert shown["1002"] == "moodle.unpacked/John Smith_1002_assignsubmission_file_perceptron.ipynb"
    assert shown["1003"].startswith("ERROR: 2 files could each be the submission (moodle.unpacked/Walt Whit_1003_"
                                    "assignsubmission_file_/a.py, ")
    files = {f.student: f for f in result.files}
    assert files["1001"].name == "Ada Lovelace" and files["1002"].name == "John Smith"
    # Moodle's zip times are the files' upload times, still the archive's word: an mtime, flagged as such.
    assert files["1001"].submitted_at == datetime(2026, 9, 30, 12).astimezone()
    assert files["1001"].submitted_at_source == "mtime"
    assert left_out(result) == {
        "moodle.unpacked/John Smith_1002_assignsubmission_onlinetext_onlinetext.html": "online_text",
        "moodle.unpacked/Ada Lovelace_1001_assignsubmission_file_/scratch.py": "not_the_submission"}


def test_gradescope_export_ids_group_submissions_and_created_at_times(tmp_path):
    result = plan(lms.gradescope_zip(tmp_path / "gradescope.zip"))
    assert [s.layout for s in result.sources] == ["gradescope"]
    assert chosen(result) == {
        "9001": "gradescope.unpacked/assignment_4242_export/submission_111/perceptron.py",
        "9002": "gradescope.unpacked/assignment_4242_export/submission_222/perceptron.ipynb",
        "9003": "gradescope.unpacked/assignment_4242_export/submission_222/perceptron.ipynb",  # the same group file
        "submission_333": "gradescope.unpacked/assignment_4242_export/submission_333/perceptron.py",
    }
    files = {f.student: f for f in result.files}
    assert files["9001"].submitted_at == datetime(2026, 10, 1, 20, 0, 0, 861687, tzinfo=timezone.utc)
    assert files["9002"].submitted_at == datetime(2026, 10, 3, 6, 30, tzinfo=timezone.utc)  # -07:00
    assert {files[s].submitted_at_source for s in ("9001", "9002", "9003")} == {"lms"}
    assert files["9001"].name == "Ada Lovelace" and files["9003"].name == "Pair Two"
    assert files["submission_333"].submitted_at_source == "mtime"
    assert [n.message for n in result.notices if n.kind == "metadata"] == [
        "gradescope.unpacked/assignment_4242_export/submission_333/ has no submitters in submission_metadata.yml: "
        "its folder name is taken as the student's"]


def test_the_gradescope_metadata_reader_reads_only_what_it_needs():
    entries = parse_metadata(lms.GRADESCOPE_METADATA + "submission_444:\n  :submitters:\n"
                             "  - :name: !ruby/string \"O'Neil \\\"Quoted\\\"\"\n    :sid: 'It''s 7'\n"
                             "  :created_at: not a time\n")
    assert sorted(entries) == ["submission_111", "submission_222", "submission_333", "submission_444"]
    assert [s.sid for s in entries["submission_222"].submitters] == ["9002", "9003"]
    # A block scalar's lines and the history's times are not the submission's.
    assert entries["submission_111"].created_at == datetime(2026, 10, 1, 20, 0, 0, 861687, tzinfo=timezone.utc)
    odd = entries["submission_444"]
    assert (odd.submitters[0].name, odd.submitters[0].sid, odd.created_at) == ('O\'Neil "Quoted"', "It's 7", None)


def test_nbgrader_submitted_folders(tmp_path):
    result = plan(lms.nbgrader_zip(tmp_path / "nbgrader.zip"))
    assert [s.layout for s in result.sources] == ["nbgrader"]
    assert chosen(result) == {"ada": "nbgrader.unpacked/course/submitted/ada/perceptron/perceptron.ipynb",
                              "bob": "nbgrader.unpacked/course/submitted/bob/perceptron/perceptron.ipynb"}
    assert left_out(result) == {
        "nbgrader.unpacked/course/nbgrader_config.py": "not_a_submission",
        "nbgrader.unpacked/course/submitted/ada/ps0": "other_assignment",
        "nbgrader.unpacked/course/submitted/ada/perceptron/timestamp.txt": "lms_file"}


def test_layout_can_be_forced(tmp_path):
    archive = lms.canvas_zip(tmp_path / "canvas.zip")
    result = plan(archive, layout="plain")
    assert [s.layout for s in result.sources] == ["plain"]
    assert "smithjohn_12345_678950_perceptron-1" in chosen(result)  # file stems, as a plain folder names them


CANVAS_ROSTER = """\
Student,ID,SIS User ID,SIS Login ID,Section,Perceptron (4242)
    Points Possible,,,,,32
"Smith, John",12345,S001,jsmith,Sec 1,
"Lovelace, Ada",23456,S002,alovelace,Sec 1,
"Curie, Marie",99999,S003,mcurie,Sec 2,
"""


def test_a_roster_maps_names_to_ids_and_says_who_it_does_not_know(tmp_path):
    subs = tmp_path / "subs"
    for name in ("John Smith", "lovelaceada", "Stranger"):
        write(subs / name / "perceptron.py", "x = 1\n")
    roster_path = write(tmp_path / "roster.csv", CANVAS_ROSTER)
    result = plan(subs, roster=roster_path)
    files = {f.student: f for f in result.files}
    assert sorted(files) == ["12345", "23456", "Stranger"]
    assert files["12345"].name == "Smith, John" and files["23456"].name == "Lovelace, Ada"
    assert "John Smith is Smith, John on the roster" in files["12345"].reason
    notices = {n.kind: n.message for n in result.notices}
    assert notices["roster_unmatched"] == ("Stranger is not on the roster roster.csv (by id or by name): graded "
                                           "under that id")
    assert notices["roster_missing"] == "1 student(s) on the roster have no submission: Curie, Marie"
    roster = read_roster(roster_path)
    assert "Points Possible" not in roster.students.values() and roster.id_for("marie curie") == "99999"
    moodle = read_roster(write(tmp_path / "worksheet.csv", "Identifier,Full name,Email address,Grade\n"
                                                          "Participant 1001,Ada Lovelace,ada@x.edu,\n"))
    assert moodle.students == {"1001": "Ada Lovelace"}
    with pytest.raises(RosterError, match="the roster .*bad.csv needs an id column"):
        read_roster(write(tmp_path / "bad.csv", "who,what\nann,1\n"))


def test_the_manifest_student_column_names_the_files_student_and_unmatched_rows_are_reported(tmp_path):
    subs = tmp_path / "subs"
    write(subs / "x7f3.py", "x = 1\n")  # a file named by an anonymising tool
    write(subs / "bob" / "perceptron.py", "x = 1\n")
    write(subs / "bob" / "perceptron-old.py", "x = 0\n")
    manifest = write(tmp_path / "manifest.csv", "student,file,submitted_at\n"
                                                "jsmith,x7f3.py,2026-10-01T10:00:00Z\n"
                                                "bob,perceptron-old.py,2026-09-01T10:00:00Z\n"
                                                "ghost,ghost.py,2026-10-01T10:00:00Z\n")
    result = plan(subs, manifest=manifest)
    files = {f.student: f for f in result.files}
    assert sorted(files) == ["bob", "jsmith"]  # x7f3 is jsmith's, as the manifest says
    assert (files["jsmith"].submitted_at, files["jsmith"].submitted_at_source) == (
        datetime(2026, 10, 1, 10, tzinfo=timezone.utc), "manifest")
    assert files["bob"].submitted_at_source == "mtime"  # the row names another of bob's files
    assert {n.kind: n.message for n in result.notices if n.kind.startswith("manifest")} == {
        "manifest_other_file": "manifest.csv, line 3: perceptron-old.py is not the file graded for bob "
                               "(perceptron.py); its time is not used",
        "manifest_unmatched": "manifest.csv, line 4: ghost / ghost.py matches no submission"}


def test_student_ids_from_names_of_odd_bytes_stay_printable_and_unique(tmp_path):
    subs = tmp_path / "subs"
    for raw in (b"a\x01b", b"a\x02b", b"caf\xe9"):
        folder = subs / raw.decode("utf-8", "surrogateescape")
        folder.mkdir(parents=True)
        shutil.copy(SAMPLES / "perceptron" / "correct.py", folder / "perceptron.py")
    students = [f.student for f in plan(subs).files]
    assert len(set(students)) == 3 and all(s.isprintable() for s in students)
    assert sorted(s.split("-")[0] for s in students) == ["a b", "a b", "caf\ufffd"]


def test_an_archive_of_a_class_folder_is_read_inside_it_and_one_of_a_student_folder_is_not(tmp_path):
    whole_class = lms.make_zip(tmp_path / "class.zip", {"hw1/ann.py": lms.CORRECT, "hw1/bob/perceptron.py": lms.BUGGY})
    assert chosen(plan(whole_class)) == {"ann": "class.unpacked/hw1/ann.py",
                                         "bob": "class.unpacked/hw1/bob/perceptron.py"}
    one_student = lms.make_zip(tmp_path / "ann.zip", {"ann/perceptron.py": lms.CORRECT, "ann/scratch.py": b"x = 1\n"})
    assert chosen(plan(one_student)) == {"ann": "ann.unpacked/ann/perceptron.py"}
