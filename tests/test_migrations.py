"""Schema migrations (Alembic): new, pre-migrations, older and newer gradebooks, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from grader.cli import cli
from grader.errors import GradebookError
from grader.gradebook import Gradebook, schema
from grader.gradebook.models import Base
from grader.results import CheckResult, SubmissionResult


def _result(student: str = "ann", content_hash: str = "h1") -> SubmissionResult:
    return SubmissionResult(student=student, assignment="perceptron", file=f"{student}.py", content_hash=content_hash,
                            score=1.0, max_score=1.0, status="graded", error=None,
                            checks=[CheckResult(name="a", score=1.0, max_score=1.0, status="passed", message="")])


class Database:
    """Direct access to a test database, beside the gradebook."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_engine(url)

    def execute(self, *statements: str) -> None:
        with self.engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))

    def scalar(self, statement: str):
        with self.engine.connect() as connection:
            return connection.execute(text(statement)).scalar()

    def differences_from_models(self) -> list:
        with self.engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    def tables(self) -> set[str]:
        return set(inspect(self.engine).get_table_names())


@pytest.fixture
def database(gradebook_url):
    db = Database(gradebook_url)
    yield db
    db.engine.dispose()


#: The revision after the newest, as a later release would ship it.
NEXT = f"{int(schema.HEAD) + 1:04d}"


def _create_initial_schema(database) -> None:
    """The tables as the grader made them before it had migrations: revision 0001's, unstamped."""
    command.upgrade(schema.alembic_config(database.url), schema.INITIAL)
    database.execute("DROP TABLE alembic_version")


def _db_upgrade(url: str):
    return CliRunner().invoke(cli, ["db", "upgrade", "--db", url], catch_exceptions=False)


def test_a_new_gradebook_is_created_at_head_exactly_as_the_models_say(database):
    with Gradebook(database.url) as gradebook:
        assert gradebook.schema_before.kind == "new"
        gradebook.record(_result())
    assert database.scalar("SELECT version_num FROM alembic_version") == schema.head_revision()
    assert database.differences_from_models() == []
    with Gradebook(database.url) as gradebook:
        assert gradebook.schema_before.kind == "current"


def test_migrations_go_down_to_nothing_and_up_again(database):
    Gradebook(database.url).close()
    config = schema.alembic_config(database.url)
    command.downgrade(config, "base")
    assert database.tables() <= {"alembic_version"}
    command.upgrade(config, "head")
    assert database.differences_from_models() == []


def test_a_gradebook_made_before_migrations_keeps_its_grades_through_db_upgrade(database):
    _create_initial_schema(database)  # what the grader did before it had migrations
    database.execute(
        "INSERT INTO students (id, name) VALUES (1, 'ann')",
        "INSERT INTO assignments (id, name, title) VALUES (1, 'perceptron', 'Perceptron')",
        "INSERT INTO submissions (id, student_id, assignment_id, content_hash, path, submitted_at) "
        "VALUES (1, 1, 1, 'h0', 'ann.py', '2026-11-01 10:00:00')",
        "INSERT INTO grading_runs (submission_id, graded_at, score, max_score, status, notes, output, duration, "
        "days_late, penalty) VALUES (1, '2026-11-01 10:00:00', 0.5, 1.0, 'graded', '', '', 1.0, 0, 0)")
    with pytest.raises(GradebookError, match="made by an older grader before schema versions; run: grader db upgrade"):
        Gradebook(database.url)
    assert _db_upgrade(database.url).exit_code == 0
    with Gradebook(database.url) as gradebook:
        assert [r.score for r in gradebook.history("perceptron", "ann")] == [0.5]
        gradebook.record(_result())
    assert database.scalar("SELECT version_num FROM alembic_version") == schema.HEAD
    assert database.differences_from_models() == []


def test_a_gradebook_from_before_due_dates_is_refused_until_db_upgrade(database):
    _create_initial_schema(database)
    database.execute(*(f"ALTER TABLE grading_runs DROP COLUMN {name}" for name in ("submitted_at", "days_late", "penalty")))
    database.execute(
        "INSERT INTO students (id, name) VALUES (1, 'ann')",
        "INSERT INTO assignments (id, name, title) VALUES (1, 'perceptron', 'Perceptron')",
        "INSERT INTO submissions (id, student_id, assignment_id, content_hash, path, submitted_at) "
        "VALUES (1, 1, 1, 'h0', 'ann.py', '2026-11-01 10:00:00')",
        "INSERT INTO grading_runs (submission_id, graded_at, score, max_score, status, notes, output, duration) "
        "VALUES (1, '2026-11-01 10:00:00', 0.5, 1.0, 'graded', '', '', 1.0)")
    with pytest.raises(GradebookError, match=r"was made by an older grader before schema versions; "
                                             r"run: grader db upgrade --db .* \(back the gradebook up first\)"):
        Gradebook(database.url)
    assert "alembic_version" not in database.tables()  # refusing changed nothing

    out = _db_upgrade(database.url)
    assert out.exit_code == 0, out.output
    assert out.output.startswith("upgraded the gradebook ") and out.output.endswith(
        f" from before schema versions to revision {schema.head_revision()}\n")
    with Gradebook(database.url) as gradebook:
        old, = gradebook.history("perceptron", "ann")
        assert (old.score, old.days_late, old.penalty, old.submitted_at) == (0.5, 0.0, 0.0, None)
        gradebook.record(_result())
    assert database.differences_from_models() == []
    assert _db_upgrade(database.url).output.startswith("the gradebook ")  # "... is up to date (...)"


def test_a_gradebook_upgraded_by_a_newer_grader_is_refused(database):
    Gradebook(database.url).close()
    database.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(GradebookError, match=r"has schema revision 9999, newer than this grader knows "
                                             rf"\(newest {schema.HEAD}\); upgrade grader to use it"):
        Gradebook(database.url)
    out = CliRunner().invoke(cli, ["db", "upgrade", "--db", database.url])
    assert out.exit_code == 1 and "newer than this grader knows" in out.output


def test_a_database_with_only_some_of_the_tables_is_refused(database):
    database.execute("CREATE TABLE students (id INTEGER PRIMARY KEY, name VARCHAR(200))")
    with pytest.raises(GradebookError, match="has some of the gradebook's tables but not assignments, check_results"):
        Gradebook(database.url)


@pytest.fixture
def newer_grader(tmp_path, monkeypatch):
    """This grader plus the next revision (a new table), as a later release would ship it."""
    scripts = tmp_path / "migrations"
    shutil.copytree(Path(schema.__file__).parent / "migrations", scripts,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / f"{NEXT}_notes.py").write_text(
        f'from alembic import op\nimport sqlalchemy as sa\n\nrevision = "{NEXT}"\ndown_revision = "{schema.HEAD}"\n'
        "branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n"
        '    op.create_table("ta_notes", sa.Column("id", sa.Integer(), primary_key=True))\n\n\n'
        'def downgrade():\n    op.drop_table("ta_notes")\n')
    original = schema.alembic_config

    def config(url=None, *, connection=None):
        configured = original(url, connection=connection)
        configured.set_main_option("script_location", str(scripts))
        return configured

    monkeypatch.setattr(schema, "alembic_config", config)
    monkeypatch.setattr(schema, "HEAD", NEXT)  # as the release would declare it
    schema.head_revision.cache_clear()
    yield
    schema.head_revision.cache_clear()


def test_an_older_gradebook_is_refused_until_db_upgrade(database, request):
    with Gradebook(database.url) as gradebook:
        gradebook.record(_result())
    current = schema.HEAD
    request.getfixturevalue("newer_grader")
    with pytest.raises(GradebookError, match=rf"has schema revision {current}, this grader needs {NEXT}; "
                                             r"run: grader db upgrade --db "):
        Gradebook(database.url)
    out = _db_upgrade(database.url)
    assert out.exit_code == 0 and f"from revision {current} to revision {NEXT}" in out.output
    assert "ta_notes" in database.tables()
    with Gradebook(database.url) as gradebook:
        assert gradebook.schema_before.kind == "current"
        assert len(gradebook.latest("perceptron")) == 1


def test_db_upgrade_needs_an_existing_sqlite_file(tmp_path):
    out = CliRunner().invoke(cli, ["db", "upgrade", "--db", str(tmp_path / "typo.db")])
    assert out.exit_code == 1
    assert out.output.startswith(f"GradebookError: no gradebook at {tmp_path / 'typo.db'}; grading creates one")
    assert not (tmp_path / "typo.db").exists()


def test_after_a_schema_change_a_pre_migrations_gradebook_needs_db_upgrade(database, request):
    _create_initial_schema(database)
    request.getfixturevalue("newer_grader")
    with pytest.raises(GradebookError, match="made by an older grader before schema versions; run: grader db upgrade"):
        Gradebook(database.url)
    out = _db_upgrade(database.url)
    assert out.exit_code == 0 and f"from before schema versions to revision {NEXT}" in out.output
    assert database.scalar("SELECT version_num FROM alembic_version") == NEXT


def test_head_is_the_newest_migration():
    # Opening a gradebook compares its stored revision with schema.HEAD without Alembic.
    assert schema.head_revision() == schema.HEAD


def test_creating_and_opening_a_gradebook_at_head_leave_alembic_unimported(tmp_path):
    # Alembic and the migration scripts load only for upgrades and refusals (~0.2 s saved).
    import subprocess
    import sys

    db = tmp_path / "g.db"
    probe = ("import sys; from grader.gradebook import Gradebook\n"
             "for _ in range(2):\n"
             f"    with Gradebook.open({str(db)!r}) as g: print(g.schema_before.kind)\n"
             "print('alembic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["new", "current", "False"]
    database = Database(f"sqlite:///{db}")
    assert database.scalar("SELECT version_num FROM alembic_version") == schema.head_revision()
    assert database.differences_from_models() == []


def test_upgrading_a_0001_gradebook_turns_its_notes_into_structured_notes(database):
    command.upgrade(schema.alembic_config(database.url), schema.INITIAL)
    database.execute(
        "INSERT INTO students (id, name) VALUES (1, 'ann')",
        "INSERT INTO assignments (id, name, title) VALUES (1, 'perceptron', 'Perceptron')",
        "INSERT INTO submissions (id, student_id, assignment_id, content_hash, path, submitted_at) "
        "VALUES (1, 1, 1, 'h0', 'ann.py', '2026-11-01 10:00:00')",
        "INSERT INTO grading_runs (submission_id, graded_at, score, max_score, status, notes, output, duration, "
        "days_late, penalty) VALUES (1, '2026-11-01 10:00:00', 0.5, 1.0, 'graded', "
        "'cell 2: NameError: x\ncell 9: skipped', '', 1.0, 0, 0)")
    assert _db_upgrade(database.url).exit_code == 0
    with Gradebook(database.url) as gradebook:
        old, = gradebook.history("perceptron", "ann")
    assert [note.text for note in old.notes] == ["cell 2: NameError: x", "cell 9: skipped"]
    assert all(note.where is None for note in old.notes) and old.checks == []
    command.downgrade(schema.alembic_config(database.url), schema.INITIAL)  # and back, unchanged
    assert database.scalar("SELECT notes FROM grading_runs") == "cell 2: NameError: x\ncell 9: skipped"


def test_upgrading_a_0002_gradebook_to_head_keeps_its_grades_and_going_back_works(database):
    command.upgrade(schema.alembic_config(database.url), "0002")
    database.execute(
        "INSERT INTO students (id, name) VALUES (1, 'ann')",
        "INSERT INTO assignments (id, name, title) VALUES (1, 'perceptron', 'Perceptron')",
        "INSERT INTO submissions (id, student_id, assignment_id, content_hash, path, submitted_at) "
        "VALUES (1, 1, 1, 'h0', 'ann.py', '2026-11-01 10:00:00')",
        "INSERT INTO grading_runs (id, submission_id, graded_at, score, max_score, status, notes, output, duration, "
        "days_late, penalty, submitted_at_source) VALUES (1, 1, '2026-11-01 10:00:00', 0.5, 1.0, 'graded', '[]', '', "
        "1.0, 0, 0, 'manifest')",
        "INSERT INTO check_results (run_id, position, name, score, max_score, status, message, visibility, "
        "description, duration, metrics) VALUES (1, 0, 'a', 0.5, 1.0, 'failed', 'half', 'public', '', 0.1, '{}')")
    with pytest.raises(GradebookError, match=f"has schema revision 0002, this grader needs {schema.HEAD}; "
                                             "run: grader db upgrade"):
        Gradebook(database.url)
    upgraded = _db_upgrade(database.url)
    assert upgraded.exit_code == 0, upgraded.output
    assert database.differences_from_models() == []
    with Gradebook(database.url) as gradebook:
        old, = gradebook.history("perceptron", "ann")
        assert (old.score, old.submitted_at_source, old.checks[0].message) == (0.5, "manifest", "half")
        assert (old.assignment_version, old.grader_version, old.late_by_lms) == (None, None, None)
        assert [r.student for r in gradebook.stale("perceptron", "v1")] == ["ann"]  # unknown version: stale
        batch = gradebook.start_batch("perceptron", "regrade", "v1")
        new = _result()
        new.assignment_version, new.late_by_lms = "v1", True
        gradebook.record(new, batch=batch)
        gradebook.finish_batch(batch)
        assert gradebook.stale("perceptron", "v1") == []
        assert gradebook.latest("perceptron")[0].late_by_lms is True
    command.downgrade(schema.alembic_config(database.url), "0002")
    assert "batches" not in database.tables()
    assert database.scalar("SELECT count(*) FROM grading_runs") == 2
    assert database.scalar("SELECT score FROM grading_runs WHERE id = 1") == 0.5
