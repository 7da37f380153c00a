"""Checks of the perceptron assignment (trusted: runs in the grader, never in the sandbox)."""

import numpy as np

from grader.checks import check, expect, expect_close, expect_equal, expect_raises

ACTIVATIONS = ("linear", "unit_step", "sign", "piecewise_linear", "sigmoid", "tanh", "relu")
# The points where activations have their corners and jumps.
EDGES = np.array([-2.0, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0])
LECTURE_X = np.array([[0, 1], [1, 0], [2, 1], [1, 2]], dtype=float)
LECTURE_Y = np.array([0, 0, 1, 1])
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


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
    expect_equal(ctx.student.step(0.0), 0, name="step(0.0)")
    expect_equal(ctx.student.step(0), 0, name="step(0)")


@check(points=2, visibility="public")
def step_on_scalars_and_arrays(ctx):
    """step works on scalars and elementwise on arrays, keeping the shape."""
    for z in (-3.5, -1e-9, 1e-9, 2.0):
        expect_equal(ctx.student.step(z), ctx.reference.step(z), name=f"step({z})")
    z = np.array([-2.0, -0.1, 0.0, 0.1, 3.0])
    expect_equal(ctx.student.step(z), ctx.reference.step(z), name="step(z) for z = [-2, -0.1, 0, 0.1, 3]")


@check(points=3, visibility="public")
def all_seven_activations(ctx):
    """Each of the seven activations, at the points where they bend or jump."""
    for name in ACTIVATIONS:
        expect_close(ctx.student.activation(name, EDGES), ctx.reference.activation(name, EDGES),
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
    expect_close(ctx.student.extend(x), ctx.reference.extend(x), name="extend([0.5, -2.0])")
    X = np.arange(6, dtype=float).reshape(3, 2)
    expect_close(ctx.student.extend(X), ctx.reference.extend(X), name="extend(X) for X of shape (3, 2)")


@check(points=2, visibility="public")
def predict_on_lecture_points(ctx):
    """predict gives {0, 1} labels for one point and for a batch of points."""
    w = np.array([1.0, 1.0, -2.0])
    X = ctx.reference.extend(LECTURE_X)
    expect_equal(ctx.student.predict(w, X), ctx.reference.predict(w, X), name="predict(w, X)")
    expect_equal(ctx.student.predict(w, X[0]), ctx.reference.predict(w, X[0]), name="predict(w, x) for one point")


@check(points=3, visibility="public")
def update_on_each_case(ctx):
    """perceptron_update: no change when right, w + x for a missed 1, w - x for a missed 0."""
    w = np.array([1.0, 2.0, -1.0])
    cases = [
        (np.array([1.0, 0.0, 1.0]), 0, "a correctly classified point"),
        (np.array([0.0, 1.0, 1.0]), 0, "a point labelled 0 predicted 1"),
        (np.array([-1.0, -1.0, 1.0]), 1, "a point labelled 1 predicted 0"),
    ]
    for x, y, what in cases:
        expect_equal(ctx.student.perceptron_update(w, x, y), ctx.reference.perceptron_update(w, x, y),
                     name=f"perceptron_update(w, x, y) on {what}")


@check(points=3, visibility="public")
def lecture_worked_example(ctx):
    """The lecture's example: w0 = (1, 2, -1) trains to w = (1, 1, -2) with mistakes [1, 0]."""
    X = ctx.reference.extend(LECTURE_X)
    w, mistakes = ctx.student.train_perceptron(X, LECTURE_Y, w0=np.array([1.0, 2.0, -1.0]))
    expect_close(w, np.array([1.0, 1.0, -2.0]), name="w")
    expect_equal(mistakes, [1, 0], name="mistakes")


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
    for name in ACTIVATIONS:
        expect_close(ctx.student.activation(name, z), ctx.reference.activation(name, z),
                     name=f"activation({name!r}, z)", rtol=1e-7, atol=1e-9)


@check(points=1, visibility="hidden")
def extend_random_shapes(ctx):
    """extend on random shapes, including a single feature."""
    for n, d in ((1, 1), (5, 3), (2, 7)):
        X = ctx.rng.normal(size=(n, d))
        expect_close(ctx.student.extend(X), ctx.reference.extend(X), name=f"extend(X) for X of shape {(n, d)}")


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
    for _ in range(6):
        x = np.append(ctx.rng.normal(size=3), 1.0)
        y = int(ctx.rng.integers(0, 2))
        expect_close(ctx.student.perceptron_update(w, x, y), ctx.reference.perceptron_update(w, x, y),
                     name=f"perceptron_update(w, x, {y})")


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
    expect_equal(mistakes, expected_mistakes, name="mistakes")
    expect_close(w, expected_w, name="w")


@check(points=1, visibility="hidden")
def default_w0_is_zeros(ctx):
    """Without w0, training starts from the zero vector."""
    X = ctx.reference.extend(LECTURE_X)
    expect_close(ctx.student.train_perceptron(X, LECTURE_Y), ctx.reference.train_perceptron(X, LECTURE_Y),
                 name="train_perceptron(X, y)")


@check(points=4, visibility="hidden")
def train_on_random_separable_data(ctx):
    """Training on random separable data of several sizes matches the reference."""
    for n, d in ((5, 2), (20, 3), (40, 5)):
        X, y = separable_data(ctx.rng, n, d)
        w0 = ctx.rng.normal(size=d + 1)
        for start in (None, w0):
            yours = ctx.student.train_perceptron(X, y, w0=start)
            expected = ctx.reference.train_perceptron(X, y, w0=start)
            label = "zeros" if start is None else "random w0"
            expect_close(yours, expected, name=f"train_perceptron on {n} points in {d}-D ({label})")


@check(points=1, visibility="hidden")
def max_epochs_respected(ctx):
    """Training stops after max_epochs even when it has not converged."""
    X = ctx.reference.extend(XOR_X)
    for epochs in (1, 3):
        _, mistakes = ctx.student.train_perceptron(X, XOR_Y, max_epochs=epochs)
        expect(isinstance(mistakes, list), f"mistakes should be a list, yours is {type(mistakes).__name__}")
        expect(len(mistakes) == epochs, f"max_epochs={epochs}: mistakes has {len(mistakes)} entries, expected {epochs}")
