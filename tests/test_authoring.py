"""Course staff tools: every bundled assignment validates; a scaffold validates out of the box."""

import pytest
from click.testing import CliRunner

from grader.course.assignment import get_assignment, list_assignments
from grader.course.authoring import scaffold, validate
from grader.cli import cli
from grader.errors import UsageError

from conftest import ROOT


@pytest.mark.parametrize("name", [a.name for a in list_assignments(ROOT)])
def test_bundled_assignment_is_valid(name, course_root, forkserver):
    report = validate(get_assignment(name, course_root), forkserver=forkserver)
    assert report.ok, [(f.what, f.detail) for f in report.findings if not f.ok]
    assert [f.what for f in report.findings] == [
        "checks and reference import", "every check has a docstring", "public/hidden split",
        "notebook stub generates and is valid", "the reference earns full marks", "the unmodified stub earns zero"]


def test_new_then_validate_through_the_cli(tmp_path):
    runner = CliRunner()
    created = runner.invoke(cli, ["--course", str(tmp_path), "new", "dropout", "--title", "Dropout"],
                            catch_exceptions=False)
    assert created.exit_code == 0
    assert (tmp_path / "assignments" / "dropout" / "checks.py").is_file()
    assert (tmp_path / "reference" / "dropout.py").is_file()
    result = runner.invoke(cli, ["--course", str(tmp_path), "validate", "dropout"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "dropout: valid" in result.stdout and "✓ the reference earns full marks — 3 / 3" in result.stdout
    again = runner.invoke(cli, ["--course", str(tmp_path), "new", "dropout"], catch_exceptions=False)
    assert again.exit_code == 1 and "already exists" in again.stderr


def test_validate_reports_a_stub_that_already_scores(tmp_path, forkserver):
    scaffold(tmp_path, "leaky")
    stub = tmp_path / "assignments" / "leaky" / "stub.py"
    stub.write_text(stub.read_text().replace("raise NotImplementedError", "return np.asarray(x, dtype=float) * factor"))
    report = validate(get_assignment("leaky", tmp_path), forkserver=forkserver)
    failed = {f.what: f.detail for f in report.findings if not f.ok}
    assert failed == {"the unmodified stub earns zero": "3 / 3: passes scale_small_example, scale_random_inputs"}


def test_validate_reports_a_reference_that_cannot_earn_full_marks(tmp_path, forkserver):
    scaffold(tmp_path, "strict")
    checks = tmp_path / "assignments" / "strict" / "checks.py"
    # A check that demands more than the reference does: the reference must fail it.
    checks.write_text(checks.read_text() + (
        "\n\n@check(points=1, visibility='hidden')\ndef scale_keeps_integers(ctx):\n"
        "    \"\"\"scale of integers by an integer stays integer.\"\"\"\n"
        "    expect_close(ctx.student.scale(np.ones(2, dtype=int), 2), np.full(2, 2), check_dtype=True)\n"))
    report = validate(get_assignment("strict", tmp_path), forkserver=forkserver)
    failed = {f.what: f.detail for f in report.findings if not f.ok}
    assert list(failed) == ["the reference earns full marks"]
    assert failed["the reference earns full marks"].startswith(
        "3 / 4: scale_keeps_integers: result: dtype float64 (yours), expected a int64 array")


def test_validate_flags_a_check_without_docstring(tmp_path, forkserver):
    scaffold(tmp_path, "nodoc")
    checks = tmp_path / "assignments" / "nodoc" / "checks.py"
    checks.write_text(checks.read_text().replace('    """scale multiplies every element by the factor."""\n', ""))
    report = validate(get_assignment("nodoc", tmp_path), forkserver=forkserver)
    failed = {f.what: f.detail for f in report.findings if not f.ok}
    assert failed == {"every check has a docstring": "scale_small_example"}


def test_scaffold_refuses_bad_names(tmp_path):
    with pytest.raises(UsageError, match="lower-case identifiers"):
        scaffold(tmp_path, "My Assignment")
