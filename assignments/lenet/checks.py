"""Checks of the ``lenet`` assignment (train a LeNet to a target accuracy on a hidden test split).

The student writes ``build_model()`` and ``train_model(model, X_train, y_train)``. The harness
(``harness.py``) builds and trains the model inside the sandbox, within a training budget,
and returns logits for the images the checks send in; the labels stay here, in the trusted
process, where every accuracy is computed. The hidden test split (``hidden/test.npz``) is
read only here, and its inputs are perturbed with the course secret (``hidden/secret.toml``)
before they are sent, so they cannot be looked up in the public copy of the digits.

The assignment's own settings come from ``assignment.toml`` (``ctx.settings``): the training
budgets and the parameter bound in ``[training]``, the accuracy thresholds in ``[scoring]``.
The time limits of the training checks follow the budgets: their ``timeout`` is a function of
those settings, which the grader evaluates when it starts.
"""

from __future__ import annotations

import functools
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.checks import CheckFailed, Partial, SandboxOutcome, StudentError, check, expect

HERE = Path(__file__).resolve().parent
TRAINING_SPLIT = HERE / "data" / "train.npz"
HIDDEN_SPLIT = HERE / "hidden" / "test.npz"
SECRET = HERE / "hidden" / "secret.toml"

NUM_CLASSES = 10
#: Images per predict call into the sandbox.
PREDICT_BATCH = 256
#: Images of the released split the fresh model is probed with.
PROBE_IMAGES = 64
#: Share of each digit of the released split that the self-check holds out for validation.
VALIDATION_FRACTION = 0.2
#: A training that stops using the CPU is stopped after this multiple of its budget in wall time.
WALL_FACTOR = 2.0
#: Seconds a training check may take beyond its wall-clock limit (building, predicting, slack).
TIMEOUT_MARGIN = 30.0
#: An image's logits may differ this much (relative, at least 1.0 absolute scale) between a
#: batch and two halves of it: float summation order, not batch statistics.
SPLIT_TOLERANCE = 1e-4
#: Rows of a softmax output sum to 1 within this.
SOFTMAX_TOLERANCE = 1e-4
#: A model that gives one digit to this share of the images has collapsed to a constant answer.
COLLAPSE_SHARE = 0.9
#: The student's optional name on the leaderboard (a module-level string), and the characters of
#: it that are passed on (the grader cleans it and keeps 40).
LEADERBOARD_NAME = "LEADERBOARD_NAME"
NAME_CHARACTERS = 200


# ---------------------------------------------------------------------------------------
# Settings (assignment.toml [training] and [scoring]).


@dataclass(frozen=True)
class Settings:
    """The assignment's own settings, checked once."""

    #: CPU seconds train_model may use when graded.
    budget_seconds: float
    #: CPU seconds train_model may use in the public self-check.
    self_check_budget_seconds: float
    #: The most parameters a model may have and still earn accuracy points.
    max_parameters: int
    #: Where the model trains and predicts: "cpu" (or "cuda" on a grading machine with a GPU).
    device: str
    #: Accuracy at or below which the accuracy checks earn nothing.
    accuracy_for_no_points: float
    #: Accuracy at or above which they earn all their points (linear in between).
    accuracy_for_full_points: float

    @classmethod
    def from_tables(cls, tables: dict) -> "Settings":
        training, scoring = tables.get("training", {}), tables.get("scoring", {})
        try:
            settings = cls(
                budget_seconds=float(training["budget_seconds"]),
                self_check_budget_seconds=float(training["self_check_budget_seconds"]),
                max_parameters=int(training["max_parameters"]),
                device=str(tables.get("device", "cpu")),
                accuracy_for_no_points=float(scoring["accuracy_for_no_points"]),
                accuracy_for_full_points=float(scoring["accuracy_for_full_points"]),
            )
        except KeyError as missing:
            raise ValueError(f"lenet's assignment.toml lacks the setting {missing.args[0]}") from None
        if not (settings.budget_seconds > 0 and settings.self_check_budget_seconds > 0 and settings.max_parameters > 0):
            raise ValueError("lenet's [training] budgets and max_parameters must be positive")
        if not 0.0 <= settings.accuracy_for_no_points < settings.accuracy_for_full_points <= 1.0:
            raise ValueError("lenet's [scoring] needs 0 <= accuracy_for_no_points < accuracy_for_full_points <= 1")
        return settings

    def fraction(self, accuracy: float) -> float:
        """Share of an accuracy check's points: 0 up to the lower threshold, 1 from the upper, linear between."""
        low, high = self.accuracy_for_no_points, self.accuracy_for_full_points
        return min(1.0, max(0.0, (accuracy - low) / (high - low)))


def _settings(ctx) -> Settings:
    return Settings.from_tables(ctx.settings)


def _time_limit(budget_seconds: float) -> float:
    return WALL_FACTOR * budget_seconds + TIMEOUT_MARGIN


def _self_check_time_limit(tables: dict) -> float:
    """The self-check's wall-clock limit (``@check(timeout=...)``): twice its budget, plus the margin."""
    return _time_limit(Settings.from_tables(tables).self_check_budget_seconds)


def _graded_time_limit(tables: dict) -> float:
    """The same for the graded training run."""
    return _time_limit(Settings.from_tables(tables).budget_seconds)


# ---------------------------------------------------------------------------------------
# Data (trusted side only).


def _scaled(images: np.ndarray) -> np.ndarray:
    """uint8 pixel counts 0..16 (N, 8, 8) as float32 (N, 1, 8, 8) in [0, 1]."""
    return (images.astype(np.float32) / 16.0)[:, None]


@functools.lru_cache(maxsize=None)
def training_split() -> tuple[np.ndarray, np.ndarray]:
    """The released training split: float32 (N, 1, 8, 8) images in [0, 1] and int64 labels."""
    with np.load(TRAINING_SPLIT) as data:
        return _scaled(data["images"]), data["labels"].astype(np.int64)


def _shift(images: np.ndarray, offsets: np.ndarray, axis: int) -> np.ndarray:
    """Shift each (H, W) image by its own offset (|offset| <= 1 pixel) along ``axis``, bilinearly, zeros coming in."""
    towards_end = np.zeros_like(images)   # content moved one pixel towards higher indices
    towards_start = np.zeros_like(images)
    if axis == 1:
        towards_end[:, 1:], towards_start[:, :-1] = images[:, :-1], images[:, 1:]
    else:
        towards_end[:, :, 1:], towards_start[:, :, :-1] = images[:, :, :-1], images[:, :, 1:]
    amount = np.abs(offsets).reshape(-1, 1, 1)
    neighbour = np.where((offsets >= 0).reshape(-1, 1, 1), towards_end, towards_start)
    return (1.0 - amount) * images + amount * neighbour


def perturb(images: np.ndarray, secret: dict) -> np.ndarray:
    """The course secret applied to uint8 (N, 8, 8) images: float32 (N, 1, 8, 8) in [0, 1].

    Each image is shifted by a sub-pixel offset drawn uniformly in ±max_shift_pixels along each
    axis, then gets Gaussian noise of standard deviation noise_std, clipped to [0, 1].
    """
    rng = np.random.default_rng(int(secret["seed"]))
    max_shift, noise = float(secret["max_shift_pixels"]), float(secret["noise_std"])
    if not (0.0 <= max_shift <= 1.0 and noise >= 0.0):
        raise ValueError(f"{SECRET}: max_shift_pixels must be in [0, 1] and noise_std >= 0")
    x = images.astype(np.float64) / 16.0
    rows, columns = rng.uniform(-max_shift, max_shift, size=(2, len(x)))
    x = _shift(_shift(x, rows, axis=1), columns, axis=2)
    x = np.clip(x + noise * rng.standard_normal(x.shape), 0.0, 1.0)
    return x.astype(np.float32)[:, None]


@functools.lru_cache(maxsize=None)
def hidden_split() -> tuple[np.ndarray, np.ndarray]:
    """The hidden test split as the sandbox sees its inputs (perturbed), with its int64 labels."""
    secret = tomllib.loads(SECRET.read_text())
    with np.load(HIDDEN_SPLIT) as data:
        return perturb(data["images"], secret), data["labels"].astype(np.int64)


def self_check_split(seed: int):
    """The released split divided for the self-check: ``(train images, train labels), (validation ...)``.

    ``VALIDATION_FRACTION`` of each digit, chosen with ``seed``, is held out.
    """
    images, labels = training_split()
    rng = np.random.default_rng(seed)
    held_out = np.zeros(len(labels), dtype=bool)
    for digit in range(NUM_CLASSES):
        members = np.flatnonzero(labels == digit)
        held_out[rng.permutation(members)[:round(len(members) * VALIDATION_FRACTION)]] = True
    return (images[~held_out], labels[~held_out]), (images[held_out], labels[held_out])


# ---------------------------------------------------------------------------------------
# Calling the harness.


def _call(what: str, function, *args):
    """A harness call; a student's exception becomes a failure that says which step raised."""
    try:
        return function(*args)
    except StudentError as error:
        if error.type_name == "DeviceUnavailable":
            # A course setting, not the student's doing: the check errors and the log says why.
            raise RuntimeError(error.detail) from None
        raise CheckFailed(f"{what} raised {error.detail}{error.place}", where=error.where) from None


#: What the harness's reports hold, by field: the sandbox's word is checked before it is used.
_BUILD_REPORT = {"parameters": int, "largest": list}
_PROBE_REPORT = {"output": dict, "single": dict, "changed": list}
_TRAIN_REPORT = {"run": str, "parameters": int, "budget_seconds": float, "returned": bool, "train_seconds": float,
                 "train_cpu_seconds": float, "parameters_changed": bool, "inputs_changed": list, "threads_left": list}


def _well_formed(report, fields: dict, what: str) -> dict:
    """``report`` if it has ``fields`` of the right types; else the submission tampered with the harness."""
    expect(isinstance(report, dict) and all(isinstance(report.get(k), t) for k, t in fields.items()),
           f"the sandbox returned a malformed report for {what} (does your code change the grader's harness?)")
    return report


def _built(ctx) -> dict:
    return _well_formed(_call("build_model()", ctx.harness.build, ctx.seed), _BUILD_REPORT, "build_model()")


def _probe_images(ctx) -> np.ndarray:
    images, _ = training_split()
    return images[np.sort(ctx.rng.choice(len(images), size=PROBE_IMAGES, replace=False))]


def _probed(ctx) -> dict:
    _built(ctx)
    what = f"your model's forward on a batch of {PROBE_IMAGES} images (eval mode, torch.no_grad())"
    return _well_formed(_call(what, ctx.harness.probe, _probe_images(ctx)), _PROBE_REPORT, what)


def _train(ctx, images: np.ndarray, labels: np.ndarray, seed: int, budget: float) -> dict:
    settings = _settings(ctx)
    what = "train_model(model, X_train, y_train)"
    report = _call(what, ctx.harness.train, images, labels, seed, budget, WALL_FACTOR * budget, settings.device)
    return _well_formed(report, _TRAIN_REPORT, what)


def _full_run(ctx) -> dict:
    """The graded training run: the whole released split, the full budget (shared by two checks)."""
    images, labels = training_split()
    return _train(ctx, images, labels, ctx.seed, _settings(ctx).budget_seconds)


def _logits(value, count: int, what: str) -> np.ndarray:
    expect(isinstance(value, np.ndarray) and value.dtype.kind == "f",
           f"{what} returned {type(value).__name__}; expected logits as a float array")
    expect(value.shape == (count, NUM_CLASSES),
           f"{what} returned logits of shape {value.shape} for {count} images; expected ({count}, {NUM_CLASSES})")
    return value


def _largest_difference(a: np.ndarray, b: np.ndarray) -> float:
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return 0.0 if same.all() else float(np.nan_to_num(np.abs(a.astype(np.float64) - b), nan=np.inf).max())


def _predict(ctx, run: str, inputs: np.ndarray) -> tuple[np.ndarray, float]:
    """Logits for ``inputs`` in batches, and how much a repeated call on the first batch differed."""
    what = "your trained model's forward (eval mode, torch.no_grad())"
    parts = []
    repeat_difference = 0.0
    for start in range(0, len(inputs), PREDICT_BATCH):
        batch = inputs[start:start + PREDICT_BATCH]
        parts.append(_logits(_call(what, ctx.harness.predict, run, batch), len(batch), what))
        if start == 0:
            again = _logits(_call(what, ctx.harness.predict, run, batch), len(batch), what)
            repeat_difference = _largest_difference(parts[0], again)
    return np.concatenate(parts), repeat_difference


# ---------------------------------------------------------------------------------------
# Evaluating predictions (trusted side) and saying what they mean.


@dataclass(frozen=True)
class Evaluation:
    """How the predictions of a model compare with the labels."""

    #: Share of images whose largest logit is the true digit (rows with NaN or inf count as wrong).
    accuracy: float
    correct: int
    total: int
    #: Images whose logits hold NaN or infinity.
    invalid: int
    #: Rows = true digit, columns = predicted digit, over the images with finite logits.
    confusion: np.ndarray
    #: Images of each digit, all of them (those with invalid logits too).
    per_digit_totals: np.ndarray

    @classmethod
    def of(cls, logits: np.ndarray, labels: np.ndarray) -> "Evaluation":
        valid = np.isfinite(logits).all(axis=1)
        predicted = logits.argmax(axis=1)
        confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
        np.add.at(confusion, (labels[valid], predicted[valid]), 1)
        correct = int(np.trace(confusion))
        return cls(accuracy=correct / len(labels), correct=correct, total=len(labels), invalid=int((~valid).sum()),
                   confusion=confusion, per_digit_totals=np.bincount(labels, minlength=NUM_CLASSES))

    def per_digit(self) -> list[tuple[int, int, int]]:
        """(digit, correct, total) for each digit present, worst accuracy first."""
        rows = [(d, int(self.confusion[d, d]), int(n)) for d, n in enumerate(self.per_digit_totals) if n]
        return sorted(rows, key=lambda row: (row[1] / row[2], row[0]))

    def collapsed_to(self) -> int | None:
        """The digit predicted for nearly every image (``COLLAPSE_SHARE``), or None."""
        predicted = self.confusion.sum(axis=0)
        top = int(predicted.argmax())
        return top if predicted[top] >= COLLAPSE_SHARE * self.total else None

    def describe(self) -> str:
        """Weakest digits, most frequent mistakes and the confusion matrix, in one line."""
        parts = []
        weak = [f"{d}: {c / n:.2f} ({c}/{n})" for d, c, n in self.per_digit() if c < n][:3]
        if weak:
            parts.append("weakest digits " + ", ".join(weak))
        off = self.confusion.copy()
        np.fill_diagonal(off, 0)
        mistakes = sorted(((int(off[t, p]), t, p) for t in range(NUM_CLASSES) for p in range(NUM_CLASSES) if off[t, p]),
                          key=lambda m: (-m[0], m[1], m[2]))[:4]
        if mistakes:
            parts.append("most frequent mistakes " + ", ".join(f"{t} read as {p} ×{n}" for n, t, p in mistakes))
        rows = " ".join(f"{d}[{' '.join(str(int(v)) for v in self.confusion[d])}]" for d in range(NUM_CLASSES))
        parts.append(f"confusion matrix (row = true digit, columns = predicted 0-9): {rows}")
        return "; ".join(parts)


def _budget_note(report: dict) -> str | None:
    budget = report["budget_seconds"]
    if report["stopped_by"] == "cpu":
        return f"training stopped at the {budget:g} s budget; the model was evaluated as it stood"
    if report["stopped_by"] == "wall":
        return (f"training stopped after {WALL_FACTOR * budget:g} s of wall-clock time, having used only "
                f"{report['train_cpu_seconds']:.1f} s of CPU time (does train_model sleep or wait?); the model was "
                "evaluated as it stood")
    return None


def _losses_summary(report: dict) -> str | None:
    losses = report.get("losses") or {}
    items = losses.get("items")
    if not items:
        return None
    values = [item["value"] for item in items]
    if any(v is None for v in values):
        return None
    if not all(math.isfinite(v) for v in values):
        first_bad = next(i for i, v in enumerate(values) if not math.isfinite(v))
        return (f"the loss of epoch {first_bad + 1} is {values[first_bad]}: training diverged (a learning rate "
                "too high?)")
    return f"train_model returned {len(values)} epoch losses, {values[0]:.3g} → {values[-1]:.3g}"


def _training_notes(report: dict, budget_name: str) -> list[str]:
    """What the training run itself tells a student: time used, the losses, a model left untrained."""
    notes = []
    if not report["stopped_by"]:
        notes.append(f"training took {report['train_seconds']:.1f} s ({report['train_cpu_seconds']:.1f} s CPU) "
                     f"of the {report['budget_seconds']:g} s {budget_name}")
    if report["parameters_changed"] is False:
        notes.append("train_model did not change the model's parameters: train the model it is given, in place "
                     "(do not build a new one inside train_model)")
    summary = _losses_summary(report)
    if summary:
        notes.append(summary)
    return notes


def _prediction_notes(evaluation: Evaluation, repeat_difference: float) -> list[str]:
    """What the predictions tell: invalid logits, a collapse, randomness at evaluation, the mistakes."""
    notes = []
    if evaluation.invalid:
        notes.append(f"{evaluation.invalid} images got NaN or infinite logits (counted as wrong): training diverged")
    collapsed = evaluation.collapsed_to()
    if collapsed is not None:
        notes.append(f"your model answers {collapsed} for nearly every image: it collapsed to a constant output and "
                     f"learnt nothing (a mean loss near ln 10 = {math.log(NUM_CLASSES):.2f} is chance level); the "
                     "usual cause is a learning rate far too high (the first epochs' losses explode, the ReLUs die)")
    if repeat_difference:
        notes.append(f"two identical calls in eval mode gave different logits (largest difference "
                     f"{repeat_difference:.3g}): something random stays on at evaluation, see "
                     "predictions_stable_in_eval_mode")
    notes.append(evaluation.describe())
    return notes


def _record_leaderboard_name(ctx) -> None:
    """``ctx.labels["leaderboard_name"]``: the student's ``LEADERBOARD_NAME``, if it is a string.

    Optional, so a file without one, a value that is not a string, or a module whose lookup
    fails (a module ``__getattr__`` that raises or hangs) records nothing and costs no points."""
    try:
        name = ctx.student_value(LEADERBOARD_NAME)
    except SandboxOutcome:
        return
    if isinstance(name, str) and name.strip():
        ctx.labels["leaderboard_name"] = name[:NAME_CHARACTERS]


def _accuracy_verdict(ctx, report: dict, evaluation: Evaluation, repeat_difference: float, where: str,
                      budget_name: str) -> Partial:
    """The Partial an accuracy check returns, with its metrics recorded and a message to act on."""
    settings = _settings(ctx)
    over_bound = report["parameters"] > settings.max_parameters
    fraction = 0.0 if over_bound else settings.fraction(evaluation.accuracy)
    ctx.metrics.update(accuracy=evaluation.accuracy, train_seconds=report["train_seconds"],
                       train_cpu_seconds=report["train_cpu_seconds"], parameters=report["parameters"],
                       budget_exhausted=1.0 if report["stopped_by"] else 0.0,
                       within_parameter_bound=0.0 if over_bound else 1.0)
    notes = [note for note in [_budget_note(report)] if note]
    notes.append(f"accuracy {evaluation.accuracy:.3f} ({evaluation.correct} of {evaluation.total} right) on {where}")
    if over_bound:
        notes.append(f"but your model has {report['parameters']:,} parameters, more than the "
                     f"{settings.max_parameters:,} allowed, so accuracy earns no points here")
    else:
        notes.append(f"{fraction:.0%} of this check's points (none at {settings.accuracy_for_no_points:.2f} or below, "
                     f"all at {settings.accuracy_for_full_points:.2f} or above, linear between)")
    notes += _training_notes(report, budget_name) + _prediction_notes(evaluation, repeat_difference)
    _record_leaderboard_name(ctx)
    return Partial(fraction, "; ".join(notes))


# ---------------------------------------------------------------------------------------
# The contract of the model.


@check(points=2, visibility="public")
def model_contract(ctx):
    """build_model() returns a torch.nn.Module mapping (N, 1, 8, 8) float32 images to (N, 10) float32 logits."""
    report = _probed(ctx)
    for name, count in (("output", PROBE_IMAGES), ("single", 1)):
        info = report[name]
        call = f"model(x) for x of shape ({count}, 1, 8, 8) in eval mode"
        expect(info["type"] == "Tensor", f"{call} returned a {info['type']}; expected a tensor of logits")
        expect(info["shape"] == [count, NUM_CLASSES],
               f"{call} returned shape {tuple(info['shape'])}; expected ({count}, {NUM_CLASSES}): one logit per "
               "digit for each image (check the size of your flatten and of the last Linear layer)")
        expect(info["dtype"] == "float32", f"{call} returned {info['dtype']} logits; expected float32 "
                                           "(do not convert the model or its output to another type)")
        expect(info["finite"], f"{call} returned NaN or infinite logits for a freshly built model")
    logits = report["logits"]
    expect(isinstance(logits, np.ndarray) and logits.shape == (PROBE_IMAGES, NUM_CLASSES),
           "the sandbox returned no logits for the probe batch")
    probabilities = (logits >= 0).all() and (logits <= 1).all() and np.allclose(logits.sum(axis=1), 1.0,
                                                                                  atol=SOFTMAX_TOLERANCE)
    expect(not probabilities,
           "your model's outputs are probabilities (every row is in [0, 1] and sums to 1): the model must output "
           "raw logits; remove the softmax at the end (nn.CrossEntropyLoss applies log-softmax itself)")


@check(points=1, visibility="public")
def parameter_bound(ctx):
    """The model has no more parameters than the assignment allows (the stub says how many)."""
    report = _built(ctx)
    bound = _settings(ctx).max_parameters
    largest = ", ".join(f"{name} {size:,}" for name, size in report["largest"])
    expect(report["parameters"] <= bound,
           f"your model has {report['parameters']:,} parameters, more than the {bound:,} allowed (largest: "
           f"{largest}); the first Linear after the convolutions is usually the big one: pool before "
           "flattening, or use fewer channels or hidden units")


@check(points=2, visibility="public")
def predictions_stable_in_eval_mode(ctx):
    """In eval mode under torch.no_grad() the logits repeat exactly, do not depend on the batch, and change nothing."""
    report = _probed(ctx)
    expect(report["repeat_difference"] is not None,
           f"your model does not map a batch of {PROBE_IMAGES} images to ({PROBE_IMAGES}, {NUM_CLASSES}) logits "
           "(see model_contract)")
    expect(report["repeat_difference"] == 0.0,
           f"two identical calls in eval mode under torch.no_grad() gave different logits (largest difference "
           f"{report['repeat_difference']:.3g}): something random stays on at evaluation. The usual cause is "
           "F.dropout(x, p) in forward: its training argument defaults to True, so model.eval() cannot turn it "
           "off; use an nn.Dropout layer, or F.dropout(x, p, training=self.training)")
    expect(report["split_difference"] is not None and report["split_difference"] <= SPLIT_TOLERANCE,
           f"an image's logits depend on the other images in its batch (predicting {PROBE_IMAGES} images at once "
           f"and in two halves differs by up to {report['split_difference'] or float('nan'):.3g}, relative): at "
           "evaluation each image must be classified on its own; do not normalise with statistics of the batch "
           "(x.mean() over the batch, BatchNorm with track_running_stats=False)")
    expect(not report["changed"],
           f"predicting changed the model ({', '.join(report['changed'][:3])}): forward must not update "
           "parameters or buffers in eval mode")


# ---------------------------------------------------------------------------------------
# Training and accuracy.


@check(points=3, visibility="public", timeout=_self_check_time_limit)
def self_check_validation_accuracy(ctx):
    """Self-check: trained by your train_model within its budget on 80% of the released split; accuracy on the rest."""
    (images, labels), (validation_images, validation_labels) = self_check_split(ctx.seed)
    settings = _settings(ctx)
    report = _train(ctx, images, labels, ctx.seed + 1, settings.self_check_budget_seconds)
    logits, repeat_difference = _predict(ctx, report["run"], validation_images)
    evaluation = Evaluation.of(logits, validation_labels)
    where = (f"{len(validation_labels)} images held out of the released training split (trained on the other "
             f"{len(labels)})")
    verdict = _accuracy_verdict(ctx, report, evaluation, repeat_difference, where, "self-check budget")
    preview = (f"; when graded, your model trains on all {len(labels) + len(validation_labels)} released images for "
               f"at most {settings.budget_seconds:g} s and is scored on the hidden test split, whose images carry a "
               "little noise and sub-pixel shifts")
    return Partial(verdict.fraction, verdict.message + preview)


@check(points=10, visibility="hidden", timeout=_graded_time_limit)
def hidden_test_accuracy(ctx):
    """Trained by your train_model within the graded budget on the released split; accuracy on the hidden split."""
    report = _full_run(ctx)
    inputs, labels = hidden_split()
    logits, repeat_difference = _predict(ctx, report["run"], inputs)
    return _accuracy_verdict(ctx, report, Evaluation.of(logits, labels), repeat_difference,
                             f"the {len(labels)} hidden test images", "budget")


def _check_losses(losses: dict) -> None:
    returned = "train_model(model, X_train, y_train)"
    expect(losses["items"] is not None,
           f"{returned} returned a {losses['type']}; expected a list with the mean loss of each epoch")
    expect(len(losses["items"]) > 0, f"{returned} returned an empty list; expected one mean loss per epoch")
    for index, item in enumerate(losses["items"]):
        expect(not item["requires_grad"],
               f"item {index} of the list train_model returned is a tensor still attached to the autograd graph: "
               "append loss.item() (a float), which also frees each batch's graph")
        expect(item["value"] is not None,
               f"item {index} of the list train_model returned is a {item['type']}; expected a float")
        expect(math.isfinite(item["value"]),
               f"the loss of epoch {index + 1} is {item['value']}: training diverged; lower the learning rate")


@check(points=2, visibility="hidden", timeout=_graded_time_limit)
def train_model_contract(ctx):
    """train_model trains the model in place, returns finite epoch losses, and leaves its inputs unchanged."""
    report = _full_run(ctx)
    expect(report["returned"],
           f"train_model was stopped at the {report['budget_seconds']:g} s budget before it returned, so what it "
           "returns and whether it leaves its inputs alone could not be checked: make it finish within the budget "
           "(fewer epochs, or stop when time.process_time() says the time is nearly up)")
    expect(not report["inputs_changed"],
           f"train_model modified {' and '.join(report['inputs_changed'])} in place (X_train -= ..., .mul_(), "
           "indexing assignments): work on a copy, the caller's data must stay as it was")
    expect(report["parameters_changed"],
           "train_model did not change the model's parameters: train the model it is given, in place (do not "
           "build a new one inside train_model)")
    expect(report["unusable"] is None,
           f"after train_model the model cannot predict (N, 10) logits for float32 images any more: "
           f"{report['unusable']}")
    expect(not report["threads_left"],
           f"train_model left threads running ({', '.join(report['threads_left'][:3])}): train in the calling "
           "thread, and be done when train_model returns")
    _check_losses(report["losses"])
