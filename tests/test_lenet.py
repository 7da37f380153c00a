"""The lenet assignment: its data, its trusted helpers, its harness, and its samples graded.

Gradings run in copies of the assignment with small training budgets (``SAMPLE_BUDGETS``):
every sample trains in a few seconds, so only the budget-ignoring one notices, and it then
costs seconds instead of a minute. The reference and the stub are graded with the samples;
``test_authoring`` validates the assignment as shipped.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import re
import shutil
import signal
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from grader.course.assignment import get_assignment
from grader.errors import AssignmentError
from grader.checks import CheckContext, CheckFailed, MissingName
from grader.cli import cli
from grader.grading.grader import Grader
from grader.sandbox import isolation
from grader.sandbox.forkserver import ForkServer

from conftest import ROOT, SAMPLES, write

LENET = ROOT / "assignments" / "lenet"
SUBMISSIONS = Path(__file__).resolve().parent / "lenet_submissions"
#: (budget_seconds, self_check_budget_seconds) of the copy the samples are graded in.
SAMPLE_BUDGETS = (5, 4)
#: The same for the tests of the budget itself.
TINY_BUDGETS = (1, 0.5)
POINTS = {"model_contract": 2, "parameter_bound": 1, "predictions_stable_in_eval_mode": 2,
          "self_check_validation_accuracy": 3, "hidden_test_accuracy": 10, "train_model_contract": 2}
ACCURACY_CHECKS = ("self_check_validation_accuracy", "hidden_test_accuracy")
#: Per graded file: the checks it must lose entirely (all others pass, or for the accuracy checks
#: earn their interpolated share), the range of that share, and a phrase each lost check's message holds.
EXPECTED = {
    "reference": ({}, (1.0, 1.0)),
    "correct": ({}, (1.0, 1.0)),
    "bug_no_eval": ({"predictions_stable_in_eval_mode": "F.dropout(x, p) in forward"}, (0.4, 0.95)),
    "bug_softmax_before_ce": ({"model_contract": "remove the softmax at the end"}, (0.6, 1.0)),
    "bug_lr_diverges": ({"self_check_validation_accuracy": "collapsed to a constant output",
                         "hidden_test_accuracy": "collapsed to a constant output"}, (0.0, 0.0)),
    "bug_too_big": ({"parameter_bound": "more than the 100,000 allowed",
                     "self_check_validation_accuracy": "accuracy earns no points here",
                     "hidden_test_accuracy": "accuracy earns no points here"}, (0.0, 0.0)),
    "bug_ignores_budget": ({"train_model_contract": "was stopped at the 5 s budget before it returned"}, (1.0, 1.0)),
}
METRICS = {"accuracy", "train_seconds", "train_cpu_seconds", "parameters", "budget_exhausted", "within_parameter_bound"}
SECONDS = {"train_seconds", "train_cpu_seconds"}
MESSAGE_LIMIT = 1500


def _module(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


checks = _module(LENET / "checks.py", "lenet_checks_under_test")
harness = _module(LENET / "harness.py", "lenet_harness_under_test")


def _course(root: Path, budgets: tuple[float, float], **training) -> Path:
    """A copy of the lenet assignment (and its reference) under ``root`` with other [training] settings."""
    shutil.copytree(LENET, root / "assignments" / "lenet")
    (root / "reference").mkdir(parents=True)
    shutil.copy(ROOT / "reference" / "lenet.py", root / "reference" / "lenet.py")
    settings = {"budget_seconds": budgets[0], "self_check_budget_seconds": budgets[1], **training}
    toml = root / "assignments" / "lenet" / "assignment.toml"
    text = toml.read_text()
    for key, value in settings.items():
        text, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value!r}".replace("'", '"'), text)
        assert count == 1, key
    toml.write_text(text)
    return root


def _without_seconds(result) -> list:
    """A result's checks without what varies from run to run: the measured seconds."""
    return [(c.name, c.status, c.score, re.sub(r"training took [^;]* budget", "training took …", c.message),
             {k: v for k, v in c.metrics.items() if k not in SECONDS}) for c in result.checks]


@pytest.fixture(scope="module")
def warm():
    """A warm parent like the assignment's own: numpy, torch and torch._dynamo (1 s per sandbox less)."""
    server = ForkServer(("numpy", "torch", "torch._dynamo")).start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def sample_grader(tmp_path_factory, warm):
    root = _course(tmp_path_factory.mktemp("lenet-samples"), SAMPLE_BUDGETS)
    with Grader(get_assignment("lenet", root), forkserver=warm) as grader:
        yield grader


@pytest.fixture(scope="module")
def tiny_course(tmp_path_factory):
    return _course(tmp_path_factory.mktemp("lenet-tiny"), TINY_BUDGETS)


@pytest.fixture(scope="module")
def tiny_grader(tiny_course, warm):
    with Grader(get_assignment("lenet", tiny_course), forkserver=warm) as grader:
        yield grader


@pytest.fixture(scope="module")
def graded(sample_grader):
    files = {path.stem: path for path in sorted((SAMPLES / "lenet").glob("*.py"))}
    assert set(files) == set(EXPECTED) - {"reference"}
    files.update(reference=ROOT / "reference" / "lenet.py", stub=LENET / "stub.py")
    return {name: sample_grader.grade_file(path, name) for name, path in files.items()}


def _by_name(result) -> dict:
    return {c.name: c for c in result.checks}


# --- the data -------------------------------------------------------------------------------------

def test_the_splits_are_the_digits_divided_by_digit():
    with np.load(LENET / "data" / "train.npz") as train, np.load(LENET / "hidden" / "test.npz") as test:
        splits = {"train": (train["images"], train["labels"]), "test": (test["images"], test["labels"])}
    assert [len(labels) for _, labels in splits.values()] == [1438, 359]
    for images, labels in splits.values():
        assert images.dtype == labels.dtype == np.uint8 and images.shape == (len(labels), 8, 8)
        assert images.max() == 16 and set(np.unique(labels)) == set(range(10))
    assert np.bincount(splits["test"][1]).min() >= 35 and np.bincount(splits["train"][1]).min() >= 139


def test_the_hidden_inputs_are_perturbed_reproducibly_and_match_no_public_image():
    inputs, labels = checks.hidden_split()
    assert inputs.dtype == np.float32 and inputs.shape == (359, 1, 8, 8) and labels.dtype == np.int64
    assert 0.0 <= inputs.min() and inputs.max() <= 1.0
    with np.load(LENET / "hidden" / "test.npz") as test:
        originals = test["images"]
    again = checks.perturb(originals, {"seed": 3078717519218367439, "max_shift_pixels": 0.2, "noise_std": 0.03})
    assert np.array_equal(inputs, again)
    public = np.concatenate([checks.training_split()[0], checks._scaled(originals)]).reshape(-1, 64)
    exact = (inputs.reshape(-1, 1, 64) == public[None]).all(axis=2)
    assert not exact.any()
    other_secret = checks.perturb(originals, {"seed": 1, "max_shift_pixels": 0.2, "noise_std": 0.03})
    assert not np.array_equal(inputs, other_secret)
    unperturbed = checks.perturb(originals, {"seed": 1, "max_shift_pixels": 0.0, "noise_std": 0.0})
    assert np.array_equal(unperturbed, checks._scaled(originals))


def test_the_self_check_holds_out_a_fifth_of_each_digit():
    (images, labels), (held_images, held_labels) = checks.self_check_split(5)
    assert len(labels) + len(held_labels) == 1438 and len(held_labels) == 287
    assert all(abs(n - m / 4) <= 1 for n, m in zip(np.bincount(held_labels), np.bincount(labels)))
    assert np.array_equal(checks.self_check_split(5)[1][1], held_labels)
    assert not np.array_equal(checks.self_check_split(6)[1][0], held_images)


# --- trusted helpers ------------------------------------------------------------------------------

def test_points_are_interpolated_between_the_thresholds_and_settings_are_checked():
    settings = checks.Settings.from_tables(get_assignment("lenet", ROOT).extra)
    assert (settings.budget_seconds, settings.self_check_budget_seconds, settings.max_parameters) == (60, 20, 100_000)
    for accuracy, fraction in [(0.5, 0.0), (0.80, 0.0), (0.885, 0.5), (0.97, 1.0), (1.0, 1.0)]:
        assert settings.fraction(accuracy) == pytest.approx(fraction)
    with pytest.raises(ValueError, match="lacks the setting budget_seconds"):
        checks.Settings.from_tables({"training": {}, "scoring": {}})
    tables = {"training": {"budget_seconds": 1, "self_check_budget_seconds": 1, "max_parameters": 10},
              "scoring": {"accuracy_for_no_points": 0.9, "accuracy_for_full_points": 0.8}}
    with pytest.raises(ValueError, match="accuracy_for_no_points < accuracy_for_full_points"):
        checks.Settings.from_tables(tables)


def test_an_evaluation_counts_nan_logits_as_wrong_and_names_a_collapse():
    labels = np.repeat(np.arange(10), 10)
    logits = np.eye(10, dtype=np.float32)[labels]
    logits[:5] = np.nan
    evaluation = checks.Evaluation.of(logits, labels)
    assert (evaluation.accuracy, evaluation.correct, evaluation.invalid) == (0.95, 95, 5)
    assert evaluation.per_digit()[0] == (0, 5, 10) and evaluation.collapsed_to() is None
    assert "weakest digits 0: 0.50 (5/10)" in evaluation.describe()
    assert "0[5 0 0 0 0 0 0 0 0 0] 1[0 10 0 0 0 0 0 0 0 0]" in evaluation.describe()
    constant = checks.Evaluation.of(np.tile(np.eye(10, dtype=np.float32)[3], (100, 1)), labels)
    assert constant.collapsed_to() == 3 and "most frequent mistakes 0 read as 3 ×10" in constant.describe()


@pytest.mark.parametrize("returned, message", [
    ({"type": "float", "items": None}, "returned a float; expected a list with the mean loss of each epoch"),
    ({"type": "list", "items": []}, "returned an empty list"),
    ({"type": "list", "items": [{"type": "Tensor", "value": 2.3, "requires_grad": True}]},
     "item 0 of the list train_model returned is a tensor still attached to the autograd graph"),
    ({"type": "list", "items": [{"type": "float", "value": 2.3, "requires_grad": False},
                                {"type": "float", "value": math.nan, "requires_grad": False}]},
     "the loss of epoch 2 is nan: training diverged"),
])
def test_the_losses_train_model_returns_are_checked(returned, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        checks._check_losses(returned)


# --- the harness, in this process -----------------------------------------------------------------

def _student(train_model, build_model=None) -> types.ModuleType:
    student = types.ModuleType("student")
    student.build_model = build_model or (lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)))
    student.train_model = train_model
    return student


def _endless(model, X_train, y_train):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    while True:
        try:  # `except Exception` must not swallow the stop
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(X_train), y_train).backward()
            optimizer.step()
        except Exception:
            pass


def test_the_budget_stops_training_and_puts_signals_and_timers_back():
    images, labels = checks.training_split()
    deterministic = torch.are_deterministic_algorithms_enabled()
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    previous_timer = signal.setitimer(signal.ITIMER_REAL, 30.0)  # (pytest-timeout's, if it runs one)
    try:
        before = (signal.getsignal(signal.SIGPROF), signal.getsignal(signal.SIGALRM))
        started = time.monotonic()
        report = harness.train(_student(_endless), images[:200], labels[:200], 1, 0.3, 5.0)
        elapsed = time.monotonic() - started
        assert (signal.getsignal(signal.SIGPROF), signal.getsignal(signal.SIGALRM)) == before
        assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)
        assert 25.0 < signal.getitimer(signal.ITIMER_REAL)[0] < 30.0  # the alarm that was running, running on
    finally:
        signal.setitimer(signal.ITIMER_REAL, *previous_timer)
        signal.signal(signal.SIGALRM, previous)
    assert report["stopped_by"] == "cpu" and not report["returned"] and report["losses"] is None
    assert 0.27 <= report["train_cpu_seconds"] < 1.0 and elapsed < 5.0  # the profiling timer ticks coarsely
    assert report["parameters_changed"] and report["unusable"] is None and report["inputs_changed"] == []
    assert torch.are_deterministic_algorithms_enabled() == deterministic  # as it was before the harness ran


def test_the_harness_reports_modified_inputs_and_a_model_it_never_trained():
    images, labels = checks.training_split()

    def careless(model, X_train, y_train):
        X_train.mul_(2.0)
        return [1.0]

    report = harness.train(_student(careless), images[:64], labels[:64], 1, 5.0, 10.0)
    assert report["inputs_changed"] == ["X_train"] and report["parameters_changed"] is False
    assert report["returned"] and report["losses"]["items"] == [{"type": "float", "value": 1.0, "requires_grad": False}]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_the_harness_refuses_a_gpu_the_machine_does_not_have():
    images, labels = checks.training_split()
    with pytest.raises(harness.DeviceUnavailable, match=r"torch.cuda.is_available\(\) is False"):
        harness.train(_student(_endless), images[:8], labels[:8], 1, 1.0, 2.0, "cuda")


def test_no_hidden_label_is_ever_sent_to_the_sandbox():
    """The hidden check, with a harness that records every argument it is sent: float inputs only."""
    reference = _module(ROOT / "reference" / "lenet.py", "lenet_reference_under_test")
    assignment = get_assignment("lenet", ROOT)
    sent = []

    class RecordingHarness:
        def __getattr__(self, name):
            def call(*args):
                sent.append((name, args))
                return getattr(harness, name)(reference, *args)
            return call

    class Unnamed:  # the reference sets no LEADERBOARD_NAME
        def __grader_value__(self, name):
            raise MissingName(f"{name} is not defined")

    ctx = CheckContext(student=Unnamed(), reference=reference, harness=RecordingHarness(), rng=np.random.default_rng(0),
                       seed=assignment.seed, student_id="x", settings=assignment.extra)
    verdict = checks.hidden_test_accuracy(ctx)
    assert verdict.fraction == 1.0 and ctx.metrics["accuracy"] >= 0.97
    inputs, labels = checks.hidden_split()
    train_images, train_labels = checks.training_split()
    arrays = [value for _, args in sent for value in args if isinstance(value, np.ndarray)]
    assert [name for name, _ in sent] == ["train", "predict", "predict", "predict"]
    assert all(a.dtype == np.float32 for a in arrays if a is not sent[0][1][1])
    assert np.array_equal(sent[0][1][1], train_labels)  # the only labels sent: the released ones
    assert sum(len(args[1]) for name, args in sent if name == "predict") == len(inputs) + checks.PREDICT_BATCH
    assert not any(a.dtype.kind in "iu" and len(a) == len(labels) for a in arrays)


# --- grading the samples ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_earns_what_its_code_deserves(graded, name):
    lost, (low, high) = EXPECTED[name]
    result = graded[name]
    checks_by_name = _by_name(result)
    assert result.status == "graded" and list(checks_by_name) == list(POINTS)
    settings = checks.Settings.from_tables(get_assignment("lenet", ROOT).extra)
    for check_name, points in POINTS.items():
        check = checks_by_name[check_name]
        assert len(check.message) <= MESSAGE_LIMIT, (check_name, len(check.message))
        if check_name in lost:
            assert check.score == 0 and lost[check_name] in check.message, (check_name, check.message)
        elif check_name in ACCURACY_CHECKS:
            fraction = settings.fraction(check.metrics["accuracy"])
            assert check.score == pytest.approx(points * fraction, abs=1e-6), check.message
            assert low <= fraction <= high, (check_name, check.message)
        else:
            assert (check.status, check.score) == ("passed", points), (check_name, check.message)
    for check_name in ACCURACY_CHECKS:
        assert set(checks_by_name[check_name].metrics) == METRICS
    assert (result.score == result.max_score == 20) == (name in ("reference", "correct"))


def test_the_stub_earns_nothing(graded):
    result = graded["stub"]
    assert result.score == 0 and result.status == "graded"
    assert "build_model() raised NotImplementedError" in _by_name(result)["model_contract"].message


def test_the_accuracy_messages_say_what_was_measured(graded):
    hidden = _by_name(graded["correct"])["hidden_test_accuracy"]
    assert hidden.metrics["parameters"] == 35_914 and hidden.metrics["budget_exhausted"] == 0
    assert re.match(r"accuracy 0\.9\d\d \(\d+ of 359 right\) on the 359 hidden test images; 100% of this check's "
                    r"points \(none at 0\.80 or below, all at 0\.97 or above, linear between\); training took "
                    r"\d+\.\d s \(\d+\.\d s CPU\) of the 5 s budget; train_model returned 20 epoch losses", hidden.message)
    assert "confusion matrix (row = true digit, columns = predicted 0-9): 0[" in hidden.message
    stopped = _by_name(graded["bug_ignores_budget"])
    assert stopped["hidden_test_accuracy"].message.startswith(
        "training stopped at the 5 s budget; the model was evaluated as it stood; accuracy ")
    assert stopped["hidden_test_accuracy"].metrics["budget_exhausted"] == 1
    assert stopped["self_check_validation_accuracy"].message.startswith("training stopped at the 4 s budget")
    diverged = _by_name(graded["bug_lr_diverges"])["hidden_test_accuracy"].message
    assert re.search(r"train_model returned 20 epoch losses, \d\.\d+e\+0\d → 2\.3", diverged)
    assert "when graded, your model trains on all 1438 released images for at most 5 s" in \
        _by_name(graded["correct"])["self_check_validation_accuracy"].message


def test_grading_the_same_file_twice_gives_the_same_result(graded, sample_grader):
    again = sample_grader.grade_file(SAMPLES / "lenet" / "correct.py", "correct")
    assert again.score == graded["correct"].score == 20
    assert _without_seconds(again) == _without_seconds(graded["correct"])


def test_the_accuracy_checks_record_the_leaderboard_name_the_student_chose(graded):
    for name, result in graded.items():
        by_name = _by_name(result)
        expected = {"leaderboard_name": "le net"} if name == "correct" else {}
        assert [by_name[check].labels for check in ACCURACY_CHECKS] == [expected, expected], name
        assert all(by_name[check].labels == {} for check in POINTS if check not in ACCURACY_CHECKS)


def test_the_leaderboard_ranks_the_graded_samples_and_leaves_out_the_model_over_the_bound(graded, tmp_path):
    from grader.gradebook import Gradebook

    db = tmp_path / "gradebook.db"
    with Gradebook.open(str(db)) as gradebook:
        for result in graded.values():
            gradebook.record(result)
    out = CliRunner().invoke(cli, ["--course", str(ROOT), "leaderboard", "lenet", "--db", str(db), "--format", "csv",
                                   "--names"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    rows = [line.split(",") for line in out.stdout.splitlines()[1:]]
    students = [row[-2] for row in rows]
    assert set(students) == {"reference", "correct", "bug_no_eval", "bug_softmax_before_ce", "bug_lr_diverges",
                             "bug_ignores_budget"}  # not bug_too_big (over the bound), not the stub (no accuracy)
    correct = rows[students.index("correct")]
    assert correct[1:3] == ["le net", "true"] and float(correct[3]) >= 0.97 and correct[5] == "35914"
    accuracies = [float(row[3]) for row in rows]
    assert accuracies == sorted(accuracies, reverse=True) and rows[students.index("reference")][2] == "false"


QUICK = '''
import torch
from torch import nn

LEADERBOARD_NAME = __NAME__


def build_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))


def train_model(model, X_train, y_train):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(X_train), y_train)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
'''


def test_a_leaderboard_name_is_cleaned_and_capped_and_anything_but_a_string_is_ignored(tiny_grader, tmp_path):
    hostile = repr("  \x1b[31m=HYPERLINK(\"x\")\u202e <b>Ada</b>\n" + "Lovelace " * 20)
    result = tiny_grader.grade_file(write(tmp_path / "ada.py", QUICK.replace("__NAME__", hostile)), "ada")
    labels = _by_name(result)["hidden_test_accuracy"].labels
    assert labels == {"leaderboard_name": '=HYPERLINK("x") <b>Ada</b> Lovelace Lov…'}
    assert len(labels["leaderboard_name"]) == 40
    for value in ("42", "['Ada']", "'   '"):
        other = tiny_grader.grade_file(write(tmp_path / "other.py", QUICK.replace("__NAME__", value)), "other")
        assert _by_name(other)["hidden_test_accuracy"].labels == {}, value
        assert _by_name(other)["hidden_test_accuracy"].score > 0  # the name costs nothing


def test_a_missing_name_or_a_lookup_that_fails_records_nothing():
    class Student:
        def __init__(self, outcome):
            self.outcome = outcome

        def __grader_value__(self, name):
            assert name == "LEADERBOARD_NAME"
            raise self.outcome

    for outcome in (MissingName("LEADERBOARD_NAME is not defined"), checks.SandboxOutcome("crashed")):
        ctx = CheckContext(student=Student(outcome), reference=None, harness=None, rng=np.random.default_rng(0),
                           seed=1, student_id="x")
        checks._record_leaderboard_name(ctx)
        assert ctx.labels == {}


# --- the budget, and what student code can reach ----------------------------------------------------

ENDLESS = '''
import torch
from torch import nn


def build_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))


def train_model(model, X_train, y_train):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    while True:  # until it is good enough
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(X_train), y_train)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
'''

SLEEPY = ENDLESS.replace("import torch\n", "import time\nimport torch\n").replace(
    "        losses.append(loss.item())\n", "        losses.append(loss.item())\n        time.sleep(0.05)\n")


def test_the_training_checks_time_limits_follow_the_budgets_of_the_copy_graded(sample_grader, tiny_grader):
    for grader, (budget, self_check) in ((sample_grader, SAMPLE_BUDGETS), (tiny_grader, TINY_BUDGETS)):
        limits = grader.time_limits
        assert limits["self_check_validation_accuracy"] == checks.WALL_FACTOR * self_check + checks.TIMEOUT_MARGIN
        assert limits["hidden_test_accuracy"] == limits["train_model_contract"] == \
            checks.WALL_FACTOR * budget + checks.TIMEOUT_MARGIN
        assert limits["model_contract"] == 30  # [limits] check_timeout
    shipped = Grader(get_assignment("lenet", ROOT)).time_limits
    assert (shipped["self_check_validation_accuracy"], shipped["hidden_test_accuracy"]) == (70, 150)


def test_the_budget_stops_an_endless_loop_and_the_model_is_still_evaluated(tiny_grader, tmp_path):
    result = tiny_grader.grade_file(write(tmp_path / "endless.py", ENDLESS), "endless")
    by_name = _by_name(result)
    hidden = by_name["hidden_test_accuracy"]
    budget = TINY_BUDGETS[0]
    # CPU time as the kernel's profiling timer counts it and as process_time() reads it differ by a tick or two.
    assert hidden.metrics["budget_exhausted"] == 1 and 0.9 * budget <= hidden.metrics["train_cpu_seconds"] < budget + 0.5
    assert hidden.duration < checks.WALL_FACTOR * budget + 3, hidden.duration  # the budget, not the time limit
    assert hidden.message.startswith(f"training stopped at the {budget:g} s budget; the model was evaluated as it "
                                     "stood; accuracy 0.")
    assert hidden.metrics["accuracy"] > 0.5  # a trained linear model, not an untrained one
    assert by_name["self_check_validation_accuracy"].metrics["budget_exhausted"] == 1
    assert by_name["train_model_contract"].score == 0
    assert "stopped at the 1 s budget before it returned" in by_name["train_model_contract"].message


def test_a_training_that_sleeps_is_stopped_by_the_wall_clock(tiny_grader, tmp_path):
    result = tiny_grader.grade_file(write(tmp_path / "sleepy.py", SLEEPY), "sleepy")
    hidden = _by_name(result)["hidden_test_accuracy"]
    wall = checks.WALL_FACTOR * TINY_BUDGETS[0]
    assert hidden.metrics["budget_exhausted"] == 1 and hidden.metrics["train_seconds"] >= 0.95 * wall
    assert hidden.message.startswith(f"training stopped after {wall:g} s of wall-clock time, having used only ")
    assert "(does train_model sleep or wait?)" in hidden.message


def test_asking_for_a_gpu_the_machine_lacks_stops_grading_before_it_starts_in_one_line(tmp_path, warm):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    root = _course(tmp_path, TINY_BUDGETS, device="cuda")
    expected = ("AssignmentError: lenet trains on 'cuda' (device in assignment.toml), but this machine has no such GPU "
                "(torch.cuda.is_available() is False): grade on a machine with one, or set device = \"cpu\"\n")
    with pytest.raises(AssignmentError) as refused:
        Grader(get_assignment("lenet", root), forkserver=warm).start()
    assert f"AssignmentError: {refused.value}\n" == expected
    db = tmp_path / "gradebook.db"
    command = ["--course", str(root), "grade", "lenet", str(SAMPLES / "lenet" / "correct.py"), "--db", str(db),
               "--insecure", "--jobs", "1"]
    result = CliRunner().invoke(cli, command, catch_exceptions=False)
    assert (result.exit_code, result.stderr, result.stdout) == (1, expected, "")
    assert not db.exists() or "correct" not in db.read_bytes().decode("latin-1")  # nothing graded, nothing stored
    (root / "assignments" / "lenet" / "assignment.toml").write_text(
        (root / "assignments" / "lenet" / "assignment.toml").read_text().replace('device = "cuda"', 'device = "tpu"'))
    with pytest.raises(AssignmentError, match=r'device must be "cpu" or "cuda" \(or "cuda:N"\), not \'tpu\''):
        Grader(get_assignment("lenet", root), forkserver=warm).start()


def test_student_code_finds_no_hidden_label_file_or_secret(tiny_grader, tiny_course, warm, tmp_path):
    missing = [layer.name for layer in warm.missing_layers if layer.name in isolation.REQUIRED]
    if missing:
        pytest.skip(f"without the {', '.join(missing)} layer(s) the hidden files are readable (TA grading refuses)")
    source = (SUBMISSIONS / "steal_hidden_labels.py").read_text()
    source = (source.replace("__HIDDEN_COUNT__", str(len(checks.hidden_split()[1])))
              .replace("__COURSE__", str(tiny_course)).replace("__ROOT__", str(ROOT)))
    searching = tiny_grader.grade_file(write(tmp_path / "thief.py", source), "thief")
    honest = tiny_grader.grade_file(write(tmp_path / "honest.py", source.replace("SEARCH = True", "SEARCH = False")),
                                    "honest")
    reports = [line for line in searching.output.splitlines() if line.startswith("searched")]
    assert reports and all(line.endswith("found nothing") for line in reports), searching.output[-2000:]
    counts = ast.literal_eval(reports[-1].split("searched ", 1)[1].split(" found")[0])  # the dict the thief printed
    assert counts["paths"] >= 4 and counts["frames"] > 3 and counts["modules"] > 100 and counts["objects"] > 1000
    assert _without_seconds(searching) == _without_seconds(honest)
    assert 0 < searching.score < searching.max_score


# --- releasing ---------------------------------------------------------------------------------------

def test_the_release_copies_the_training_data_and_holds_no_hidden_file_label_or_secret(tmp_path):
    out = tmp_path / "release"
    result = CliRunner().invoke(cli, ["--course", str(ROOT), "release", "lenet", "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    released = sorted(p for p in out.rglob("*") if p.is_file())
    assert [p.relative_to(out).as_posix() for p in released] == [
        "DATA.md", "README.md", "lenet.ipynb", "lenet.py", "train.npz"]
    for name in ("DATA.md", "train.npz"):  # flat, next to the stub, which loads train.npz from its own folder
        assert (out / name).read_bytes() == (LENET / "data" / name).read_bytes()
    assert "Its data files are next to it: `DATA.md`, `train.npz`." in (out / "README.md").read_text()
    secret = str(3078717519218367439).encode()
    hidden_bytes = [path.read_bytes() for path in (LENET / "hidden").iterdir()]
    for path in released:
        data = path.read_bytes()
        assert path.name not in ("test.npz", "secret.toml")
        assert secret not in data and not any(hidden in data for hidden in hidden_bytes), path
    assert (out / "lenet.py").read_text() == (LENET / "stub.py").read_text()
