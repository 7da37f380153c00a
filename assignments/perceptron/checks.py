"""Checks of the perceptron assignment (trusted: runs in the grader, never in the sandbox)."""

import numpy as np

from grader.checks import (EXACT, Case, CheckFailed, StudentError, Tolerance, call_text, check, compare, expect,
                           expect_close, expect_equal, expect_raises, expect_tuple, student_error_text)

ACTIVATIONS = ("linear", "unit_step", "sign", "piecewise_linear", "sigmoid", "tanh", "relu")
# The points where activations have their corners and jumps.
EDGES = np.array([-2.0, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0])
LECTURE_X = np.array([[0, 1], [1, 0], [2, 1], [1, 2]], dtype=float)
LECTURE_Y = np.array([0, 0, 1, 1])
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


#: Vectors up to this length are shown by value in messages: a case small enough to retype.
SHOWN = 8


def _vector(value) -> str:
    return call_text("", (np.asarray(value, dtype=float),), max_shown=SHOWN)[1:-1]


def _why(w, x, y) -> str:
    """What the update must do on (w, x, y), and why, in the lecture's terms."""
    z = float(np.dot(w, x))
    predicted = int(z > 0)
    reason = f"w·x = {z:g}, so predict(w, x) = step({z:g}) = {predicted}"
    if predicted == y:
        return f"{reason} = y: no mistake, and w comes back unchanged"
    change = "w + x (a missed 1 moves w towards x)" if y == 1 else "w - x (a missed 0 moves w away from x)"
    return f"{reason}, but y = {y}: a mistake, and new_w = {change}"


#: Typical wrong updates, each with the advice that fixes it: (w, x, y) -> (new_w, mistake).
def _threshold_at_zero(w, x, y):
    wrong = int(np.dot(w, x) >= 0) != y
    return (w + x if y == 1 else w - x) if wrong else w, wrong


def _plus_minus_one_labels(w, x, y):
    wrong = y * np.dot(w, x) <= 0
    return (w + y * x) if wrong else w, bool(wrong)


def _swapped_signs(w, x, y):
    wrong = int(np.dot(w, x) > 0) != y
    return (w - x if y == 1 else w + x) if wrong else w, wrong


def _always_updates(w, x, y):
    return (w + x if y == 1 else w - x), True


UPDATE_SLIPS = [
    (_threshold_at_zero, "the threshold is strict: step(0) = 0, so a point with w·x = 0 is predicted 0 "
                         "(compare with z > 0, not z >= 0)"),
    (_plus_minus_one_labels, "the labels are 0 and 1 here, not -1 and +1: a mistake is predict(w, x) != y, and "
                             "a missed 0 gives w - x (y * x is zero when y = 0)"),
    (_swapped_signs, "the signs are swapped: add x for a missed 1, subtract it for a missed 0"),
    (_always_updates, "update only on a mistake: a correctly classified point leaves w as it is, with mistake False"),
]


def _update_parts(result, call):
    """(new_w, mistake) from what perceptron_update returned, or a failure saying what to return
    (``call()`` writes the call out, only for a message)."""
    if isinstance(result, (tuple, list)) and len(result) == 2:
        if isinstance(result[0], (bool, np.bool_)) and isinstance(result[1], np.ndarray):
            raise CheckFailed(f"{call()} returned (mistake, new_w); return them in the order (new_w, mistake)")
        return tuple(result)
    return expect_tuple(result, ("new_w", "mistake"), call=call())


def _expect_update(outcome, reference_update, w, x, y, tol: Tolerance = EXACT):
    """How the student's perceptron_update(w, x, y) ended (a ``CallOutcome``) against the reference's,
    the call shown with its values.

    Checks make the calls themselves (``ctx.calls("perceptron_update", ...)``), so that feedback on
    a notebook is placed after the cell that defines it (reports read which student functions a
    check's own source names)."""
    def written_out():  # the call with its values: only a failure's message needs it (16 us)
        return call_text("perceptron_update", (), {"w": w, "x": x, "y": y}, max_shown=SHOWN)

    try:
        result = outcome.get()
    except StudentError as error:
        raise CheckFailed(f"{written_out()} {student_error_text(error)}", where=error.where) from None
    new_w, mistake = _update_parts(result, written_out)
    expected_w, expected_mistake = reference_update(w, x, y)
    same_w, same_mistake = compare(new_w, expected_w, path="new_w", tol=tol), compare(mistake, expected_mistake,
                                                                                      path="mistake")
    if same_w.ok and same_mistake.ok:
        return
    call = written_out()
    if not isinstance(new_w, np.ndarray) or new_w.shape != expected_w.shape or new_w.dtype.kind not in "biuf":
        raise CheckFailed(f"{call}: {same_w.message}" if not same_w.ok else f"{call}: {same_mistake.message}")
    if not isinstance(mistake, (bool, np.bool_)):
        raise CheckFailed(f"{call}: {same_mistake.message}")
    stated = "" if tol == EXACT else f" ({tol})"
    message = (f"{call} returned ({_vector(new_w)}, {bool(mistake)}); expected ({_vector(expected_w)}, "
               f"{expected_mistake}){stated}: {_why(w, x, y)}")
    for slip, advice in UPDATE_SLIPS:
        slip_w, slip_mistake = slip(w, x, y)
        if bool(slip_mistake) == bool(mistake) and compare(new_w, slip_w, tol=tol).ok:
            message += f". Hint: {advice}"
            break
    raise CheckFailed(message)


def _expect_training(yours, expected, call, tol: Tolerance = Tolerance()):
    """A train_perceptron result, (w, mistakes), against the reference's, each part by name."""
    w, mistakes = expect_tuple(yours, ("w", "mistakes"), call=call)
    expect_close(w, expected[0], name=f"{call}: w", tol=tol)
    expect_equal(mistakes, expected[1], name=f"{call}: mistakes")


def separable_data(rng, n, d):
    """Extended points with labels from a random hyperplane, keeping a margin from it."""
    w_true = rng.normal(size=d + 1)
    X = np.hstack([rng.uniform(-3, 3, size=(4 * n, d)), np.ones((4 * n, 1))])
    margin = np.abs(X @ w_true) / np.linalg.norm(w_true[:-1])
    X = X[margin > 0.3][:n]
    return X, (X @ w_true > 0).astype(int)


# --- public: what a student self-checks -------------------------------------------------------

@check(points=1, visibility="public")
def step_is_strict_at_zero(ctx):
    """step(0) is 0: the threshold is strict (z > 0)."""
    at_float_zero, at_int_zero = ctx.calls("step", [(0.0,), (0,)])
    expect_equal(at_float_zero.get(), 0, name="step(0.0)")
    expect_equal(at_int_zero.get(), 0, name="step(0)")


@check(points=2, visibility="public")
def step_on_scalars_and_arrays(ctx):
    """step works on scalars and elementwise on arrays, keeping the shape."""
    scalars = (-3.5, -1e-9, 1e-9, 2.0)
    z = np.array([-2.0, -0.1, 0.0, 0.1, 3.0])
    *on_scalars, on_array = ctx.calls("step", [(v,) for v in scalars] + [(z,)])
    for v, outcome in zip(scalars, on_scalars):
        expect_equal(outcome.get(), ctx.reference.step(v), name=f"step({v})")
    expect_equal(on_array.get(), ctx.reference.step(z), name="step(z) for z = [-2, -0.1, 0, 0.1, 3]")


@check(points=3, visibility="public")
def all_seven_activations(ctx):
    """Each of the seven activations, at the points where they bend or jump."""
    for name, outcome in zip(ACTIVATIONS, ctx.calls("activation", [(name, EDGES) for name in ACTIVATIONS])):
        expect_close(outcome.get(), ctx.reference.activation(name, EDGES),
                     name=f"activation({name!r}, z)", rtol=1e-7, atol=1e-9)


@check(points=1, visibility="public")
def unknown_activation_raises(ctx):
    """An unknown activation name raises ValueError."""
    with expect_raises(ValueError, call="activation('softsign', z)"):
        ctx.student.activation("softsign", EDGES)


@check(points=2, visibility="public")
def extend_vector_and_matrix(ctx):
    """extend appends a constant-1 feature: (d,) to (d+1,), (n, d) to (n, d+1)."""
    x = np.array([0.5, -2.0])
    X = np.arange(6, dtype=float).reshape(3, 2)
    of_vector, of_matrix = ctx.calls("extend", [(x,), (X,)])
    expect_close(of_vector.get(), ctx.reference.extend(x), name="extend([0.5, -2.0])")
    expect_close(of_matrix.get(), ctx.reference.extend(X), name="extend(X) for X of shape (3, 2)")


@check(points=2, visibility="public")
def predict_on_lecture_points(ctx):
    """predict gives {0, 1} labels for one point and for a batch of points."""
    w = np.array([1.0, 1.0, -2.0])
    X = ctx.reference.extend(LECTURE_X)
    of_batch, of_point = ctx.calls("predict", [(w, X), (w, X[0])])
    expect_equal(of_batch.get(), ctx.reference.predict(w, X), name="predict(w, X)")
    expect_equal(of_point.get(), ctx.reference.predict(w, X[0]), name="predict(w, x) for one point")


@check(points=3, visibility="public")
def update_on_each_case(ctx):
    """perceptron_update: no change when right (also at w·x = 0), w + x for a missed 1, w - x for a missed 0."""
    w = np.array([1.0, 2.0, -1.0])
    cases = [
        (np.array([1.0, 0.0, 1.0]), 0),    # on the boundary, w·x = 0: predicted 0, right
        (np.array([1.0, 0.0, 1.0]), 1),    # on the boundary, labelled 1: a mistake
        (np.array([0.0, 1.0, 1.0]), 0),    # labelled 0, predicted 1
        (np.array([-1.0, -1.0, 1.0]), 1),  # labelled 1, predicted 0
        (np.array([0.0, 0.0, 1.0]), 0),    # labelled 0, predicted 0: right (y * w·x = 0 is no mistake)
    ]
    cases = [(w, x, y) for x, y in cases]
    for (w, x, y), outcome in zip(cases, ctx.calls("perceptron_update", cases)):
        _expect_update(outcome, ctx.reference.perceptron_update, w, x, y)


@check(points=3, visibility="public")
def lecture_worked_example(ctx):
    """The lecture's example: w0 = (1, 2, -1) trains to w = (1, 1, -2) with mistakes [1, 0]."""
    X = ctx.reference.extend(LECTURE_X)
    call = "train_perceptron(X, y, w0=[1, 2, -1]) on the lecture's points"
    w, mistakes = expect_tuple(ctx.student.train_perceptron(X, LECTURE_Y, w0=np.array([1.0, 2.0, -1.0])),
                               ("w", "mistakes"), call=call)
    expect_close(w, np.array([1.0, 1.0, -2.0]), name=f"{call}: w")
    expect_equal(mistakes, [1, 0], name=f"{call}: mistakes")


# --- hidden: the variations a TA grades with -----------------------------------------------------

@check(points=1, visibility="hidden")
def step_on_random_matrices(ctx):
    """step on random 2-D arrays, including exact zeros."""
    z = ctx.rng.integers(-2, 3, size=(4, 5)).astype(float)
    expect_equal(ctx.student.step(z), ctx.reference.step(z), name="step(z) for z of shape (4, 5)")


@check(points=2, visibility="hidden")
def activations_on_random_inputs(ctx):
    """All activations on random 2-D inputs, large magnitudes included."""
    z = ctx.rng.normal(scale=4.0, size=(3, 7))
    z[0, 0], z[1, 1] = 0.0, 0.5
    for name, outcome in zip(ACTIVATIONS, ctx.calls("activation", [(name, z) for name in ACTIVATIONS])):
        expect_close(outcome.get(), ctx.reference.activation(name, z),
                     name=f"activation({name!r}, z)", rtol=1e-7, atol=1e-9)


@check(points=1, visibility="hidden")
def extend_random_shapes(ctx):
    """extend on random shapes, including a single feature."""
    inputs = [ctx.rng.normal(size=(n, d)) for n, d in ((1, 1), (5, 3), (2, 7))]
    for X, outcome in zip(inputs, ctx.calls("extend", [(X,) for X in inputs])):
        expect_close(outcome.get(), ctx.reference.extend(X), name=f"extend(X) for X of shape {X.shape}")


@check(points=1, visibility="hidden")
def predict_random(ctx):
    """predict on random points and weights."""
    X = ctx.reference.extend(ctx.rng.normal(size=(12, 3)))
    w = ctx.rng.normal(size=4)
    expect_equal(ctx.student.predict(w, X), ctx.reference.predict(w, X), name="predict(w, X)")


@check(points=2, visibility="hidden")
def update_random(ctx):
    """perceptron_update on random points of both labels."""
    w = ctx.rng.normal(size=4)
    cases = []
    for _ in range(6):
        x = np.append(ctx.rng.normal(size=3), 1.0)
        cases.append((w, x, int(ctx.rng.integers(0, 2))))
    for (w, x, y), outcome in zip(cases, ctx.calls("perceptron_update", cases)):
        _expect_update(outcome, ctx.reference.perceptron_update, w, x, y, tol=Tolerance())


@check(points=2, visibility="hidden")
def xor_never_converges(ctx):
    """XOR is not linearly separable: training runs all max_epochs, the last with mistakes."""
    X = ctx.reference.extend(XOR_X)
    w, mistakes = ctx.student.train_perceptron(X, XOR_Y, max_epochs=7)
    expected_w, expected_mistakes = ctx.reference.train_perceptron(X, XOR_Y, max_epochs=7)
    expect(isinstance(mistakes, list), f"mistakes should be a list of counts per epoch, yours is {type(mistakes).__name__}")
    expect(len(mistakes) == 7, f"mistakes has {len(mistakes)} entries for max_epochs=7 on XOR; "
                               "expected one entry per epoch, 7 in all (XOR never converges)")
    expect(mistakes[-1] != 0, "the last epoch on XOR has 0 mistakes, but XOR cannot be separated")
    call = "train_perceptron(X, y, max_epochs=7) on XOR"
    expect_equal(mistakes, expected_mistakes, name=f"{call}: mistakes")
    expect_close(w, expected_w, name=f"{call}: w")


@check(points=1, visibility="hidden")
def default_w0_is_zeros(ctx):
    """Without w0, training starts from the zero vector."""
    X = ctx.reference.extend(LECTURE_X)
    _expect_training(ctx.student.train_perceptron(X, LECTURE_Y), ctx.reference.train_perceptron(X, LECTURE_Y),
                     "train_perceptron(X, y) on the lecture's points without w0")


@check(points=4, visibility="hidden")
def train_on_random_separable_data(ctx):
    """Training on random separable data of several sizes matches the reference."""
    runs = []
    for n, d in ((5, 2), (20, 3), (40, 5)):
        X, y = separable_data(ctx.rng, n, d)
        w0 = ctx.rng.normal(size=d + 1)
        runs += [(f"{n} points in {d}-D (no w0)", X, y, None), (f"{n} points in {d}-D (a random w0)", X, y, w0)]
    outcomes = ctx.calls("train_perceptron", [Case((X, y), {"w0": start}) for _, X, y, start in runs])
    for (label, X, y, start), outcome in zip(runs, outcomes):
        _expect_training(outcome.get(), ctx.reference.train_perceptron(X, y, w0=start), f"train_perceptron on {label}")


@check(points=1, visibility="hidden")
def max_epochs_respected(ctx):
    """Training stops after max_epochs even when it has not converged."""
    X = ctx.reference.extend(XOR_X)
    epoch_limits = (1, 3)
    outcomes = ctx.calls("train_perceptron", [Case((X, XOR_Y), {"max_epochs": epochs}) for epochs in epoch_limits])
    for epochs, outcome in zip(epoch_limits, outcomes):
        _, mistakes = outcome.get()
        expect(isinstance(mistakes, list), f"mistakes should be a list, yours is {type(mistakes).__name__}")
        expect(len(mistakes) == epochs, f"max_epochs={epochs}: mistakes has {len(mistakes)} entries, expected {epochs}")
