"""Checks of the ``backprop`` assignment: the hand-backprop quiz and CS231n-style layers.

Layer outputs and gradients are compared with the reference in float64 (rtol 1e-6). Every
backward function also gets a second, independent signal: its gradient is compared with a
centred-difference derivative of the student's OWN forward along a few random directions
v (<dx, v> against (f(x + h v) - f(x - h v)) / 2h, with f = sum(out * dout)), the
sandbox calls of all directions in one round trip. So a failure can say "your backward does
not match your own forward" rather than only "wrong".
"""

from __future__ import annotations

import math

import numpy as np

from grader.checks import (CheckFailed, MissingName, Remote, StudentError, Tolerance, check, compare, describe, expect,
                           expect_close, expect_tuple, is_finite_number)

#: Layer results against the reference (float64 throughout).
LAYER_TOL = Tolerance(rtol=1e-6, atol=1e-8)
#: Quiz answers: hand calculation.
QUIZ_TOL = Tolerance(rtol=1e-3, atol=1e-6)
#: Centred differences: step and tolerance of <grad, v> against the numerical derivative.
NUM_STEP = 1e-5
NUM_RTOL, NUM_ATOL = 1e-5, 1e-7
NUM_DIRECTIONS = 3


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

def _shape(value):
    return tuple(value.shape) if isinstance(value, np.ndarray) else None


def _forward(ctx, fn: str, args):
    """Call the student's forward; it must return ``(out, cache)`` with out an array."""
    return _checked_forward(fn, args, lambda: getattr(ctx.student, fn)(*args))


def _checked_forward(fn: str, args, result_of):
    """What ``result_of()`` (a call of the student's forward ``fn`` on ``args``, alone or from a
    batch) returned, checked to be ``(out, cache)`` with out an array."""
    try:
        result = result_of()
    except StudentError as error:
        x = args[0]
        if fn == "affine_forward" and x.ndim > 2:  # the classic missing reshape: say so
            raise CheckFailed(f"{error.message}. Here x has shape {x.shape}: reshape it to (N, D) = "
                              f"{(x.shape[0], int(np.prod(x.shape[1:])))} before multiplying by w "
                              f"(and give dx the shape of x in affine_backward).") from None
        raise
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed(f"{fn} must return a tuple (out, cache); yours returned {describe(result)}")
    out, cache = result
    if not isinstance(out, np.ndarray):
        raise CheckFailed(f"{fn}: out must be a numpy array; yours is {describe(out)}")
    return out, cache


def _grads(fn: str, result, names):
    """The backward's result as a tuple of len(names) (a single array when one name)."""
    return expect_tuple(result, names, call=fn)


def _scalar(value, what: str) -> float:
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(())[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise CheckFailed(f"{what} must be a number; yours is {describe(value)}")
    return float(value)


def _get(args, where):
    index, key = where
    return args[index] if key is None else args[index][key]


def _with(args, where, delta):
    """A copy of ``args`` with the argument at ``where`` shifted by ``delta``."""
    index, key = where
    new = list(args)
    if key is None:
        new[index] = args[index] + delta
    else:
        new[index] = dict(args[index])
        new[index][key] = args[index][key] + delta
    return new


def _numerical_disagreement(objective, args, where, grad, rng):
    """None when ``grad`` matches centred differences of ``objective`` along random directions.

    Otherwise ``(analytic, numerical)`` for the first direction that disagrees.
    """
    base = _get(args, where)
    directions = [rng.standard_normal(base.shape) for _ in range(NUM_DIRECTIONS)]
    # f(x + h v) and f(x - h v) for every direction, in one round trip to the sandbox.
    values = objective([_with(args, where, sign * NUM_STEP * v) for v in directions for sign in (1, -1)])
    for i, v in enumerate(directions):
        plus, minus = values[2 * i], values[2 * i + 1]
        numerical = (plus - minus) / (2 * NUM_STEP)
        analytic = float(np.sum(np.asarray(grad, dtype=np.float64) * v))
        if not (math.isfinite(numerical) and math.isfinite(analytic)):
            return analytic, numerical
        if abs(analytic - numerical) > NUM_ATOL + NUM_RTOL * max(abs(analytic), abs(numerical)):
            return analytic, numerical
    return None


def _layer_objective(ctx, fwd, dout):
    """f = sum(out * dout) of the student's forward, for each argument list of a batch (one
    round trip for all of them; the first that cannot be used fails the check)."""
    def objective(batch):
        values = []
        for args, outcome in zip(batch, ctx.calls(fwd, [tuple(args) for args in batch])):
            out, _ = _checked_forward(fwd, args, outcome.get)
            if out.shape != dout.shape:
                raise CheckFailed(f"{fwd} returned out of shape {out.shape} for a slightly perturbed input, "
                                  f"{dout.shape} before")
            values.append(float(np.sum(out * dout)))
        return values
    return objective


def _loss_objective(ctx, fn):
    """f = the loss the student's ``fn`` returns, for each argument list of a batch."""
    def objective(batch):
        values = []
        for outcome in ctx.calls(fn, [tuple(args) for args in batch]):
            result = outcome.get()
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                raise CheckFailed(f"{fn} must return a tuple (loss, gradient); yours returned {describe(result)}")
            values.append(_scalar(result[0], f"{fn}: the loss"))
        return values
    return objective


def _explain_numeric(fn, name, fwd, analytic, numerical, what="f = sum(out * dout)"):
    return (f"{fn}: {name} does not match a numerical gradient of your own {fwd} "
            f"(centred differences along a random direction v, {what}: "
            f"sum({name} * v) = {analytic:.6g} (yours), (f(+h v) - f(-h v)) / 2h = {numerical:.6g}, h = {NUM_STEP:g})")


def _diagnosis(ctx, *, fn, name, fwd, objective, args, where, grad, forward_ok, what="f = sum(out * dout)"):
    """What a numerical gradient of the student's own ``fwd`` says about a wrong gradient."""
    if not isinstance(grad, np.ndarray) or grad.shape != _shape(_get(args, where)):
        return ""
    bad = _numerical_disagreement(objective, args, where, grad, ctx.rng)
    if bad is not None:
        text = " " + _explain_numeric(fn, name, fwd, *bad, what=what) + ": the bug is in the gradient."
        if not forward_ok:
            text += f" (The output of your {fwd} is wrong too: see its own check.)"
        return text
    if not forward_ok:
        return (f" Your {name} does agree with a numerical gradient of your own {fwd}, but your forward "
                f"is wrong (its output differs from the expected one): fix {fwd} first.")
    return (f" ({name} passes a numerical check of your own {fwd} along random directions, "
            f"so look for an error in only a few elements.)")


_PAD_HINT = (" With pad = 0, a slice like dx_pad[:, :, pad:-pad, pad:-pad] is empty (-0 is 0): "
             "slice with pad:pad + H and pad:pad + W instead.")


def _conv_hint(fwd, args, name, grad):
    if fwd == "conv_forward_naive" and name == "dx" and args[3]["pad"] == 0 \
            and isinstance(grad, np.ndarray) and 0 in grad.shape:
        return _PAD_HINT
    return ""


def _call_backward(ctx, fwd, bwd, args, dout, cache):
    """The student's backward on (dout, cache). With pad = 0, the cropping slice pad:-pad is empty,
    and a backward that assigns it into a preallocated dx fails with NumPy's broadcast error: say why."""
    try:
        return getattr(ctx.student, bwd)(dout, cache)
    except StudentError as error:
        source = error.where.source if error.where is not None else ""
        if fwd == "conv_forward_naive" and args[3]["pad"] == 0 and error.is_instance(ValueError) \
                and ("broadcast" in error.detail or "-pad" in source):
            raise CheckFailed(f"{error.message}.{_PAD_HINT}", where=error.where) from None
        raise


def _pool_overlap_hint(fwd, args, grad, expected) -> str:
    """A hint when every wrong element of a max-pool dx lies where windows overlap: the backward
    assigned (=) each window's gradient where it must accumulate (+=) them."""
    if fwd != "max_pool_forward_naive" or not isinstance(grad, np.ndarray) or grad.shape != expected.shape:
        return ""
    ph, pw, stride = args[1]["pool_height"], args[1]["pool_width"], args[1]["stride"]
    if stride >= ph and stride >= pw:
        return ""
    height, width = expected.shape[2:]
    windows = np.zeros((height, width), dtype=int)
    for i in range(1 + (height - ph) // stride):
        for j in range(1 + (width - pw) // stride):
            windows[i * stride:i * stride + ph, j * stride:j * stride + pw] += 1
    with np.errstate(invalid="ignore"):
        wrong = ~np.isclose(grad, expected, rtol=LAYER_TOL.rtol, atol=LAYER_TOL.atol)
    overlapped = np.broadcast_to(windows >= 2, grad.shape)
    if not wrong.any() or not overlapped[wrong].all():
        return ""
    return (f" All {int(wrong.sum())} differing elements are where pooling windows overlap (stride {stride} is "
            f"smaller than the {ph}x{pw} pool): an element that is the maximum of several windows gets the sum "
            f"of their gradients, so accumulate with dx[...] += ... instead of assigning with dx[...] = ....")


def _require_float64(fwd, out):
    if out.dtype != np.float64:
        raise CheckFailed(f"{fwd} returned out of dtype {out.dtype}: compute in float64 (a numerical "
                          f"gradient check, and the rtol=1e-6 comparison, need its precision)")


def _check_layer_backward(ctx, fwd, bwd, args, wrt):
    """Compare the student's backward with the reference; diagnose a mismatch numerically.

    ``wrt`` maps gradient names to argument positions, in the order the backward returns them.
    """
    names = list(wrt)
    ref_out, ref_cache = getattr(ctx.reference, fwd)(*args)
    out, cache = _forward(ctx, fwd, args)
    if out.shape != ref_out.shape:
        raise CheckFailed(f"{fwd} returned out of shape {out.shape}, expected {ref_out.shape}: "
                          f"fix {fwd} first (this check runs your backward on its output)")
    forward_ok = compare(out, ref_out, tol=LAYER_TOL).ok
    dout = ctx.rng.standard_normal(ref_out.shape)
    expected = _grads(bwd, getattr(ctx.reference, bwd)(dout, ref_cache), names)
    yours = _grads(bwd, _call_backward(ctx, fwd, bwd, args, dout, cache), names)
    for name, grad, exp in zip(names, yours, expected):
        result = compare(grad, exp, path=name, tol=LAYER_TOL)
        if result.ok:
            continue
        overlap = _pool_overlap_hint(fwd, args, grad, exp)
        if overlap:  # says more than a numerical gradient could
            raise CheckFailed(f"{bwd}: {result.message}.{overlap}")
        message = f"{bwd}: {result.message}." + _conv_hint(fwd, args, name, grad)
        if out.dtype == np.float64:
            message += _diagnosis(ctx, fn=bwd, name=name, fwd=fwd, objective=_layer_objective(ctx, fwd, dout),
                                  args=args, where=(wrt[name], None), grad=grad, forward_ok=forward_ok)
        raise CheckFailed(message)


def _check_layer_gradcheck(ctx, fwd, bwd, args, wrt):
    """The student's backward against centred differences of the student's own forward."""
    names = list(wrt)
    out, cache = _forward(ctx, fwd, args)
    _require_float64(fwd, out)
    dout = ctx.rng.standard_normal(out.shape)
    yours = _grads(bwd, _call_backward(ctx, fwd, bwd, args, dout, cache), names)
    objective = _layer_objective(ctx, fwd, dout)
    for name, grad in zip(names, yours):
        position = (wrt[name], None)
        want = _shape(_get(args, position))
        if _shape(grad) != want:
            raise CheckFailed(f"{bwd}: {name} must be an array of shape {want} (like the input); "
                              f"yours is {describe(grad)}." + _conv_hint(fwd, args, name, grad))
        bad = _numerical_disagreement(objective, args, position, grad, ctx.rng)
        if bad is not None:
            raise CheckFailed(_explain_numeric(bwd, name, fwd, *bad) + ".")


def _check_forward(ctx, fwd, args):
    ref_out, _ = getattr(ctx.reference, fwd)(*args)
    out, _ = _forward(ctx, fwd, args)
    expect_close(out, ref_out, name=f"{fwd}: out", rtol=LAYER_TOL.rtol, atol=LAYER_TOL.atol)


# ---------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------

def _away_from_zero(rng, shape, low=0.1, high=2.0):
    """Values with |x| in [low, high], so ReLU kinks are far from any finite-difference step."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def _distinct(rng, shape):
    """Tie-free values at least 0.02 apart (max-pool windows have a unique, stable maximum)."""
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2) * 0.03 + rng.uniform(-0.004, 0.004, size)
    return values.reshape(shape)


def _affine_args(rng, x_shape, m):
    d = int(np.prod(x_shape[1:]))
    return [rng.standard_normal(x_shape), rng.standard_normal((d, m)), rng.standard_normal(m)]


def _conv_args(rng, x_shape, w_shape, stride, pad):
    return [rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0]),
            {"stride": stride, "pad": pad}]


def _pool_args(rng, x_shape, ph, pw, stride):
    return [_distinct(rng, x_shape), {"pool_height": ph, "pool_width": pw, "stride": stride}]


def _spiral(rng, n_per_class, n_classes, noise=0.2):
    """The lecture's spiral data set: n_per_class points on each of n_classes arms."""
    X = np.zeros((n_per_class * n_classes, 2))
    y = np.zeros(n_per_class * n_classes, dtype=np.int64)
    for j in range(n_classes):
        rows = slice(n_per_class * j, n_per_class * (j + 1))
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(4.0 * j, 4.0 * (j + 1), n_per_class) + noise * rng.standard_normal(n_per_class)
        X[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = j
    return X, y


def _net_params(rng, d, h, c):
    return {"W1": rng.standard_normal((d, h)), "b1": 0.1 * rng.standard_normal(h),
            "W2": rng.standard_normal((h, c)) / np.sqrt(h), "b2": 0.1 * rng.standard_normal(c)}


# ---------------------------------------------------------------------------------------
# Part A: quiz
# ---------------------------------------------------------------------------------------

_QUIZ_WHAT = {"q1": "dL/dw3 of the two-layer linear network",
              "q2": "dl/dw1 of the sigmoid neuron with binary cross-entropy",
              "q3": "dl/dw1 of the ReLU neuron with square loss",
              "q4": "the cross-entropy loss (natural log) of the given probabilities and class"}


_QIDS = ("q1", "q2", "q3", "q4")
_ANSWERS_EXAMPLE = "ANSWERS = {'q1': ..., 'q2': ..., 'q3': ..., 'q4': ...}"


def _answers(ctx) -> dict:
    try:
        answers = ctx.student_value("ANSWERS")
    except MissingName:
        raise CheckFailed(f"ANSWERS is not defined in your submission: add a top-level dict {_ANSWERS_EXAMPLE}") from None
    if not isinstance(answers, dict):
        raise CheckFailed(f"ANSWERS must be a dict like {_ANSWERS_EXAMPLE}; yours is {describe(answers)}")
    return answers


def _number_or_none(value):
    if isinstance(value, (bool, np.bool_)) or isinstance(value, Remote) or not is_finite_number(value):
        return None
    return float(value)


def _file_quiz(ctx):
    """The QUIZ dict of the submission, or None."""
    try:
        theirs = ctx.student_value("QUIZ")
    except MissingName:
        return None
    return theirs if isinstance(theirs, dict) else None


def _off_variant(answers, expected, quiz, theirs, qid) -> bool:
    """True when ANSWERS[qid] is a wrong number and the file's QUIZ[qid] is not the graded variant's."""
    value = _number_or_none(answers.get(qid))
    return (value is not None and not compare(value, expected[qid], tol=QUIZ_TOL).ok
            and theirs is not None and theirs.get(qid) != quiz[qid])


def _quiz_check(ctx, qid):
    quiz = ctx.reference.quiz_for(ctx.seed, ctx.student_id)["QUIZ"]
    expected = ctx.reference.quiz_answers(quiz)
    answers = _answers(ctx)
    if qid not in answers:
        keys = ", ".join(repr(k) for k in answers) or "none"
        raise CheckFailed(f"ANSWERS has no entry {qid!r} (its keys: {keys}): set ANSWERS[{qid!r}] to "
                          f"{_QUIZ_WHAT[qid]}, as a number")
    value = _number_or_none(answers[qid])
    if value is None:
        raise CheckFailed(f"ANSWERS[{qid!r}] must be a finite number (int or float); yours is {answers[qid]!r}"
                          if not isinstance(answers[qid], Remote) else f"ANSWERS[{qid!r}] must be a number")
    if compare(value, expected[qid], tol=QUIZ_TOL).ok:
        return
    hint = ""
    if compare(-value, expected[qid], tol=QUIZ_TOL).ok:
        hint = " Its magnitude is right but its sign is not."
    raise CheckFailed(f"ANSWERS[{qid!r}] = {value:g} is not {_QUIZ_WHAT[qid]} for the numbers of student "
                      f"{ctx.student_id!r} (tolerance {QUIZ_TOL}).{hint}"
                      f"{_variant_note(ctx, qid, value, quiz, expected, answers)}")


def _variant_note(ctx, qid, value, quiz, expected, answers) -> str:
    """What to do when the submission's QUIZ is not the variant of the student id being graded.

    The expected answers always follow the student id (a QUIZ edited to easier numbers earns
    nothing). The usual cause is a released stub checked without ``--student``: the first quiz
    check that fails this way says so, plainly, once; the others point to it.
    """
    theirs = _file_quiz(ctx)
    if not _off_variant(answers, expected, quiz, theirs, qid):
        return ""
    try:
        right_for_theirs = compare(value, ctx.reference.quiz_answers({qid: theirs[qid]})[qid], tol=QUIZ_TOL).ok
    except Exception:  # noqa: BLE001 - a malformed QUIZ of the student's: no claim about it
        right_for_theirs = False
    note = " It is right for the QUIZ numbers in your file." if right_for_theirs else ""
    first = next(q for q in _QIDS if _off_variant(answers, expected, quiz, theirs, q))
    if first != qid:
        return note + f" (Your file's QUIZ is not your variant: see quiz_{first}.)"
    return note + (f" The QUIZ in your file is not the variant of student {ctx.student_id!r}, which is what this "
                   f"run graded (without --student the id is the file's name). To check the numbers released "
                   f"to you, run grader check backprop FILE --student YOUR_ID.")


@check(points=3, visibility="public")
def quiz_q1(ctx):
    """Quiz q1: dL/dw3 of the two-layer linear network, for your numbers."""
    _quiz_check(ctx, "q1")


@check(points=3, visibility="public")
def quiz_q2(ctx):
    """Quiz q2: dl/dw1 of a sigmoid neuron with binary cross-entropy, for your numbers."""
    _quiz_check(ctx, "q2")


@check(points=3, visibility="public")
def quiz_q3(ctx):
    """Quiz q3: dl/dw1 of a ReLU neuron with square loss, for your numbers."""
    _quiz_check(ctx, "q3")


@check(points=2, visibility="public")
def quiz_q4(ctx):
    """Quiz q4: cross-entropy of a probability vector and its true class, for your numbers."""
    _quiz_check(ctx, "q4")


# ---------------------------------------------------------------------------------------
# Part B: affine
# ---------------------------------------------------------------------------------------

@check(points=3, visibility="public")
def affine_forward_2d(ctx):
    """affine_forward on a 2-D x matches the reference."""
    _check_forward(ctx, "affine_forward", _affine_args(ctx.rng, (4, 5), 3))


@check(points=3, visibility="hidden")
def affine_forward_reshapes(ctx):
    """affine_forward reshapes 3-D and 4-D x to (N, D), including a batch of one."""
    _check_forward(ctx, "affine_forward", _affine_args(ctx.rng, (2, 3, 4, 2), 3))
    _check_forward(ctx, "affine_forward", _affine_args(ctx.rng, (1, 4, 3), 5))


@check(points=4, visibility="public")
def affine_backward_2d(ctx):
    """affine_backward on a 2-D x: dx, dw, db match the reference."""
    _check_layer_backward(ctx, "affine_forward", "affine_backward",
                          _affine_args(ctx.rng, (4, 5), 3), {"dx": 0, "dw": 1, "db": 2})


@check(points=3, visibility="hidden")
def affine_backward_reshapes(ctx):
    """affine_backward on 4-D x and a batch of one: dx has the shape of x."""
    _check_layer_backward(ctx, "affine_forward", "affine_backward",
                          _affine_args(ctx.rng, (2, 3, 2, 2), 4), {"dx": 0, "dw": 1, "db": 2})
    _check_layer_backward(ctx, "affine_forward", "affine_backward",
                          _affine_args(ctx.rng, (1, 3, 5), 2), {"dx": 0, "dw": 1, "db": 2})


@check(points=2, visibility="public")
def affine_gradcheck(ctx):
    """affine_backward agrees with a numerical gradient of your own affine_forward."""
    _check_layer_gradcheck(ctx, "affine_forward", "affine_backward",
                           _affine_args(ctx.rng, (3, 2, 3), 4), {"dx": 0, "dw": 1, "db": 2})


# ---------------------------------------------------------------------------------------
# ReLU and sigmoid
# ---------------------------------------------------------------------------------------

@check(points=2, visibility="public")
def relu_forward_values(ctx):
    """relu_forward matches the reference on 2-D and 4-D inputs."""
    _check_forward(ctx, "relu_forward", [_away_from_zero(ctx.rng, (4, 6))])
    _check_forward(ctx, "relu_forward", [_away_from_zero(ctx.rng, (2, 3, 3, 2))])


@check(points=3, visibility="public")
def relu_backward_values(ctx):
    """relu_backward matches the reference (gradient passes only where x > 0)."""
    _check_layer_backward(ctx, "relu_forward", "relu_backward", [_away_from_zero(ctx.rng, (5, 4))], {"dx": 0})
    _check_layer_backward(ctx, "relu_forward", "relu_backward", [_away_from_zero(ctx.rng, (2, 2, 3, 3))], {"dx": 0})


@check(points=1, visibility="hidden")
def relu_gradcheck(ctx):
    """relu_backward agrees with a numerical gradient of your own relu_forward."""
    _check_layer_gradcheck(ctx, "relu_forward", "relu_backward", [_away_from_zero(ctx.rng, (3, 7))], {"dx": 0})


@check(points=2, visibility="public")
def sigmoid_forward_values(ctx):
    """sigmoid_forward matches the reference, including large |x|."""
    _check_forward(ctx, "sigmoid_forward", [ctx.rng.uniform(-6, 6, (4, 5))])
    _check_forward(ctx, "sigmoid_forward", [ctx.rng.uniform(-40, 40, (2, 3, 2, 2))])


@check(points=3, visibility="public")
def sigmoid_backward_values(ctx):
    """sigmoid_backward matches the reference."""
    _check_layer_backward(ctx, "sigmoid_forward", "sigmoid_backward",
                          [ctx.rng.uniform(-4, 4, (4, 5))], {"dx": 0})
    _check_layer_backward(ctx, "sigmoid_forward", "sigmoid_backward",
                          [ctx.rng.uniform(-4, 4, (1, 2, 3, 3))], {"dx": 0})


@check(points=1, visibility="hidden")
def sigmoid_gradcheck(ctx):
    """sigmoid_backward agrees with a numerical gradient of your own sigmoid_forward."""
    _check_layer_gradcheck(ctx, "sigmoid_forward", "sigmoid_backward",
                           [ctx.rng.uniform(-3, 3, (3, 6))], {"dx": 0})


# ---------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------

def _check_loss(ctx, fn, args, grad_name):
    """A loss function: the loss, then the gradient (diagnosed numerically on a mismatch)."""
    ref_loss, ref_grad = getattr(ctx.reference, fn)(*args)
    result = getattr(ctx.student, fn)(*args)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed(f"{fn} must return a tuple (loss, {grad_name}); yours returned {describe(result)}")
    loss, grad = result
    loss = _scalar(loss, f"{fn}: the loss")
    expect_close(loss, ref_loss, name=f"{fn}: loss", rtol=LAYER_TOL.rtol, atol=LAYER_TOL.atol)
    compared = compare(grad, ref_grad, path=f"{fn}: {grad_name}", tol=LAYER_TOL)
    if not compared.ok:
        raise CheckFailed(compared.message + "." + _diagnosis(
            ctx, fn=fn, name=grad_name, fwd=fn, objective=_loss_objective(ctx, fn), args=args,
            where=(0, None), grad=grad, forward_ok=True, what="f = loss"))


def _softmax_args(rng, n, c, scale=1.0):
    return [scale * rng.standard_normal((n, c)), rng.integers(0, c, n)]


def _check_softmax_large(ctx, x, y):
    result = ctx.student.softmax_loss(x, y)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed(f"softmax_loss must return a tuple (loss, dx); yours returned {describe(result)}")
    loss, dx = result
    loss = _scalar(loss, "softmax_loss: the loss")
    dx_array = np.asarray(dx, dtype=np.float64) if not isinstance(dx, Remote) else np.zeros(0)
    if math.isnan(loss) or np.isnan(dx_array).any():
        raise CheckFailed("softmax_loss produced NaN for scores of magnitude 1e3: np.exp overflows "
                          "(exp(1000) is inf, and inf / inf is NaN). Subtract each row's maximum from the "
                          "scores before exponentiating (the softmax does not change).")
    if math.isinf(loss) or np.isinf(dx_array).any():
        raise CheckFailed("softmax_loss produced inf for scores of magnitude 1e3: a probability underflowed "
                          "to 0 before the log (or exp overflowed). Subtract each row's maximum and compute "
                          "log-probabilities as shifted - log(sum(exp(shifted))) instead of log(probabilities).")
    ref_loss, ref_dx = ctx.reference.softmax_loss(x, y)
    expect_close(loss, ref_loss, name="softmax_loss: loss", rtol=LAYER_TOL.rtol, atol=LAYER_TOL.atol)
    expect_close(dx, ref_dx, name="softmax_loss: dx", rtol=LAYER_TOL.rtol, atol=LAYER_TOL.atol)


@check(points=4, visibility="public")
def softmax_loss_values(ctx):
    """softmax_loss: mean cross-entropy and dx match the reference on small scores."""
    _check_loss(ctx, "softmax_loss", _softmax_args(ctx.rng, 6, 4), "dx")


@check(points=3, visibility="public")
def softmax_loss_stable(ctx):
    """softmax_loss stays finite and correct for scores near +1e3 and -1e3."""
    n, c = 6, 5
    x = ctx.rng.uniform(-3, 3, (n, c))
    x[: n // 2] += 1000.0
    x[n // 2:] -= 1000.0
    _check_softmax_large(ctx, x, ctx.rng.integers(0, c, n))


@check(points=2, visibility="hidden")
def softmax_loss_stable_wide(ctx):
    """softmax_loss is exact for scores spread over +-1e3 (log-sum-exp), and for a batch of one."""
    x, y = _softmax_args(ctx.rng, 8, 6, scale=1000.0)
    _check_softmax_large(ctx, x, y)
    _check_loss(ctx, "softmax_loss", _softmax_args(ctx.rng, 1, 3), "dx")


@check(points=2, visibility="public")
def softmax_loss_gradcheck(ctx):
    """softmax_loss: dx agrees with a numerical gradient of your own loss."""
    x, y = _softmax_args(ctx.rng, 4, 5)
    result = ctx.student.softmax_loss(x, y)
    dx = _grads("softmax_loss", result, ["loss", "dx"])[1]
    if _shape(dx) != x.shape:
        raise CheckFailed(f"softmax_loss: dx must be an array of shape {x.shape} (like x); yours is {describe(dx)}")
    bad = _numerical_disagreement(_loss_objective(ctx, "softmax_loss"), [x, y], (0, None), dx, ctx.rng)
    if bad is not None:
        raise CheckFailed(_explain_numeric("softmax_loss", "dx", "softmax_loss", *bad, what="f = loss") + ".")


@check(points=3, visibility="public")
def mse_loss_values(ctx):
    """mse_loss: 0.5 * sum((pred - y)^2) / N and dpred match the reference."""
    pred = ctx.rng.standard_normal((6, 3))
    _check_loss(ctx, "mse_loss", [pred, ctx.rng.standard_normal((6, 3))], "dpred")


@check(points=2, visibility="hidden")
def mse_loss_shapes(ctx):
    """mse_loss on a 1-D prediction and on a batch of one (N is the first dimension)."""
    _check_loss(ctx, "mse_loss", [ctx.rng.standard_normal(7), ctx.rng.standard_normal(7)], "dpred")
    _check_loss(ctx, "mse_loss", [ctx.rng.standard_normal((1, 4)), ctx.rng.standard_normal((1, 4))], "dpred")


# ---------------------------------------------------------------------------------------
# The lecture's one-neuron examples, through your layers
# ---------------------------------------------------------------------------------------

#: The lecture's neuron (quiz q2's printed numbers): x = (1, -1), w = (1, 2), no bias, y = 1.
NEURON_X, NEURON_W, NEURON_Y = np.array([[1.0, -1.0]]), np.array([[1.0], [2.0]]), 1.0
NEURON_Z = float((NEURON_X @ NEURON_W)[0, 0])                    # -1
NEURON_YHAT = 1.0 / (1.0 + math.exp(-NEURON_Z))                  # sigma(-1) ~ 0.268941
NEURON_INPUTS = "x = (1, -1), w = (1, 2), no bias"
NEURON = f"the lecture's neuron ({NEURON_INPUTS}, y = 1: z = -1)"


def _expect_step(what, yours, expected, formula):
    if isinstance(yours, np.ndarray) and yours.size == 1 and np.size(expected) == 1:
        yours, expected = yours.reshape(())[()], float(np.reshape(expected, ()))  # one number: say it as one
    result = compare(yours, expected, path=what, tol=LAYER_TOL)
    if not result.ok:
        raise CheckFailed(f"{result.message}: {formula}")


@check(points=2, visibility="public")
def one_neuron_sigmoid_mse_gradient(ctx):
    """Your layers chained for one sigmoid neuron with square loss give dl/dw = (ŷ − y)·ŷ(1 − ŷ)·x."""
    yhat, y = NEURON_YHAT, np.array([[NEURON_Y]])
    z, affine_cache = _forward(ctx, "affine_forward", [NEURON_X, NEURON_W, np.zeros(1)])
    out, sigmoid_cache = _forward(ctx, "sigmoid_forward", [z])
    _expect_step(f"sigmoid_forward on {NEURON}: ŷ", out, np.array([[yhat]]), f"σ(-1) = {yhat:.6g}")
    result = ctx.student.mse_loss(out, y)
    loss, dyhat = _grads("mse_loss", result, ["loss", "dpred"])
    _expect_step("mse_loss(ŷ, y) with N = 1: the loss", _scalar(loss, "mse_loss: the loss"),
                 0.5 * (yhat - 1.0) ** 2, f"½(ŷ − y)² = {0.5 * (yhat - 1.0) ** 2:.6g}")
    dz = ctx.student.sigmoid_backward(dyhat, sigmoid_cache)
    _expect_step("sigmoid_backward(dl/dŷ, cache): dl/dz", dz, np.array([[(yhat - 1.0) * yhat * (1 - yhat)]]),
                 f"(ŷ − y)·ŷ(1 − ŷ) = {(yhat - 1.0) * yhat * (1 - yhat):.6g}")
    _, dw, _ = _grads("affine_backward", ctx.student.affine_backward(dz, affine_cache), ["dx", "dw", "db"])
    expected = ((yhat - 1.0) * yhat * (1 - yhat) * NEURON_X).T
    _expect_step("affine_backward(dl/dz, cache): dl/dw", dw, expected,
                 f"(ŷ − y)·ŷ(1 − ŷ)·x = ({expected[0, 0]:.6g}, {expected[1, 0]:.6g})")


@check(points=1, visibility="public")
def softmax_loss_binary_cross_entropy(ctx):
    """softmax_loss on scores (0, z) is the binary cross-entropy of σ(z): 1.3133 at z = −1."""
    for label in (1, 0):
        p = NEURON_YHAT if label == 1 else 1.0 - NEURON_YHAT
        call = f"softmax_loss([[0, {NEURON_Z:g}]], [{label}])"
        result = ctx.student.softmax_loss(np.array([[0.0, NEURON_Z]]), np.array([label]))
        loss, dx = _grads("softmax_loss", result, ["loss", "dx"])
        _expect_step(f"{call}: loss", _scalar(loss, f"{call}: the loss"), -math.log(p),
                     f"the binary cross-entropy −ln {'σ(−1)' if label else '(1 − σ(−1))'} = {-math.log(p):.6g} of "
                     f"the lecture's neuron ({NEURON_INPUTS}, y = {label}): with two classes and scores (0, z), "
                     f"the softmax gives class 1 the probability σ(z)")
        _expect_step(f"{call}: dx", dx, np.array([[label - NEURON_YHAT, NEURON_YHAT - label]]),
                     f"dℓ/dz = ŷ − y = {NEURON_YHAT - label:.6g} for the score z (and its negative for the 0)")


# ---------------------------------------------------------------------------------------
# Two-layer network
# ---------------------------------------------------------------------------------------

def _check_net(ctx, n_per_class, hidden, reg):
    X, y = _spiral(ctx.rng, n_per_class, 3)
    params = _net_params(ctx.rng, 2, hidden, 3)
    ref_loss, ref_grads = ctx.reference.two_layer_net(X, y, params, reg)
    result = ctx.student.two_layer_net(X, y, params, reg)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed(f"two_layer_net must return a tuple (loss, grads); yours returned {describe(result)}")
    loss, grads = result
    loss = _scalar(loss, "two_layer_net: the loss")
    expect_close(loss, ref_loss, name=f"two_layer_net(reg={reg:g}): loss", rtol=LAYER_TOL.rtol, atol=LAYER_TOL.atol)
    expect(isinstance(grads, dict), f"two_layer_net: grads must be a dict with keys W1, b1, W2, b2; "
                                    f"yours is {describe(grads)}")
    compared = compare(grads, ref_grads, path=f"two_layer_net(reg={reg:g}): grads", tol=LAYER_TOL)
    if compared.ok:
        return
    message = compared.message + "."
    for key in ("W1", "b1", "W2", "b2"):  # diagnose the first gradient that differs
        if key in grads and not compare(grads[key], ref_grads[key], tol=LAYER_TOL).ok:
            message += _diagnosis(ctx, fn="two_layer_net", name=f"grads[{key!r}]", fwd="two_layer_net",
                                  objective=_loss_objective(ctx, "two_layer_net"), args=[X, y, params, reg],
                                  where=(2, key), grad=grads[key], forward_ok=True, what="f = loss")
            break
    raise CheckFailed(message)


@check(points=6, visibility="public")
def two_layer_net_spiral(ctx):
    """two_layer_net on spiral data with reg > 0: loss and all four gradients."""
    _check_net(ctx, 10, 8, reg=0.1)


@check(points=4, visibility="hidden")
def two_layer_net_variations(ctx):
    """two_layer_net without regularisation and with a larger net and stronger reg."""
    _check_net(ctx, 20, 12, reg=0.0)
    _check_net(ctx, 15, 5, reg=0.7)


@check(points=2, visibility="hidden")
def two_layer_net_gradcheck(ctx):
    """two_layer_net: every gradient agrees with a numerical gradient of your own loss."""
    X, y = _spiral(ctx.rng, 5, 3)
    params = _net_params(ctx.rng, 2, 6, 3)
    args = [X, y, params, 0.3]
    result = ctx.student.two_layer_net(*args)
    grads = _grads("two_layer_net", result, ["loss", "grads"])[1]
    expect(isinstance(grads, dict), f"two_layer_net: grads must be a dict; yours is {describe(grads)}")
    objective = _loss_objective(ctx, "two_layer_net")
    for key in ("W1", "b1", "W2", "b2"):
        grad = grads.get(key)
        if _shape(grad) != params[key].shape:
            raise CheckFailed(f"two_layer_net: grads[{key!r}] must be an array of shape {params[key].shape}; "
                              f"yours is {describe(grad)}")
        bad = _numerical_disagreement(objective, args, (2, key), grad, ctx.rng)
        if bad is not None:
            raise CheckFailed(_explain_numeric("two_layer_net", f"grads[{key!r}]", "two_layer_net", *bad,
                                               what="f = loss") + ".")


# ---------------------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------------------

_CONV_WRT = {"dx": 0, "dw": 1, "db": 2}


@check(points=5, visibility="public")
def conv_forward_basic(ctx):
    """conv_forward_naive with a 3x3 kernel, stride 1, pad 1."""
    _check_forward(ctx, "conv_forward_naive", _conv_args(ctx.rng, (2, 3, 5, 5), (4, 3, 3, 3), 1, 1))


@check(points=3, visibility="hidden")
def conv_forward_pad0_nonsquare(ctx):
    """conv_forward_naive with pad 0, a non-square kernel and odd, non-square inputs."""
    _check_forward(ctx, "conv_forward_naive", _conv_args(ctx.rng, (2, 2, 6, 5), (3, 2, 3, 2), 1, 0))
    _check_forward(ctx, "conv_forward_naive", _conv_args(ctx.rng, (3, 1, 4, 7), (2, 1, 1, 3), 1, 0))


@check(points=3, visibility="hidden")
def conv_forward_stride2(ctx):
    """conv_forward_naive with stride 2 (pad 1 and 2), a batch of one and a non-square kernel."""
    _check_forward(ctx, "conv_forward_naive", _conv_args(ctx.rng, (1, 3, 7, 7), (2, 3, 3, 3), 2, 1))
    _check_forward(ctx, "conv_forward_naive", _conv_args(ctx.rng, (2, 1, 5, 8), (2, 1, 3, 4), 2, 2))


@check(points=6, visibility="public")
def conv_backward_basic(ctx):
    """conv_backward_naive with a 3x3 kernel, stride 1, pad 1: dx, dw, db."""
    _check_layer_backward(ctx, "conv_forward_naive", "conv_backward_naive",
                          _conv_args(ctx.rng, (2, 3, 5, 5), (4, 3, 3, 3), 1, 1), _CONV_WRT)


@check(points=3, visibility="public")
def conv_backward_pad0(ctx):
    """conv_backward_naive with pad = 0 (a crop like dx_pad[:, :, pad:-pad, pad:-pad] is empty then)."""
    _check_layer_backward(ctx, "conv_forward_naive", "conv_backward_naive",
                          _conv_args(ctx.rng, (2, 2, 5, 5), (3, 2, 3, 3), 1, 0), _CONV_WRT)


@check(points=3, visibility="hidden")
def conv_backward_pad0_nonsquare(ctx):
    """conv_backward_naive with pad 0, a non-square kernel and odd, non-square inputs."""
    _check_layer_backward(ctx, "conv_forward_naive", "conv_backward_naive",
                          _conv_args(ctx.rng, (2, 2, 6, 5), (3, 2, 3, 2), 1, 0), _CONV_WRT)
    _check_layer_backward(ctx, "conv_forward_naive", "conv_backward_naive",
                          _conv_args(ctx.rng, (3, 1, 4, 7), (2, 1, 1, 3), 1, 0), _CONV_WRT)


@check(points=3, visibility="hidden")
def conv_backward_stride2(ctx):
    """conv_backward_naive with stride 2 (pad 1 and 2), a batch of one and a non-square kernel."""
    _check_layer_backward(ctx, "conv_forward_naive", "conv_backward_naive",
                          _conv_args(ctx.rng, (1, 3, 7, 7), (2, 3, 3, 3), 2, 1), _CONV_WRT)
    _check_layer_backward(ctx, "conv_forward_naive", "conv_backward_naive",
                          _conv_args(ctx.rng, (2, 1, 5, 8), (2, 1, 3, 4), 2, 2), _CONV_WRT)


@check(points=2, visibility="public")
def conv_gradcheck(ctx):
    """conv_backward_naive agrees with a numerical gradient of your own conv_forward_naive."""
    _check_layer_gradcheck(ctx, "conv_forward_naive", "conv_backward_naive",
                           _conv_args(ctx.rng, (2, 2, 5, 4), (2, 2, 3, 2), 1, 1), _CONV_WRT)


@check(points=1, visibility="hidden")
def conv_gradcheck_stride2_pad0(ctx):
    """conv_backward_naive (stride 2, pad 0) agrees with a numerical gradient of your own forward."""
    _check_layer_gradcheck(ctx, "conv_forward_naive", "conv_backward_naive",
                           _conv_args(ctx.rng, (1, 2, 5, 7), (2, 2, 3, 3), 2, 0), _CONV_WRT)


# ---------------------------------------------------------------------------------------
# Max pooling
# ---------------------------------------------------------------------------------------

@check(points=3, visibility="public")
def max_pool_forward_basic(ctx):
    """max_pool_forward_naive with a 2x2 pool and stride 2."""
    _check_forward(ctx, "max_pool_forward_naive", _pool_args(ctx.rng, (2, 3, 4, 4), 2, 2, 2))


@check(points=3, visibility="hidden")
def max_pool_forward_nonsquare(ctx):
    """max_pool_forward_naive with non-square pools, odd sizes, overlapping windows, a batch of one."""
    _check_forward(ctx, "max_pool_forward_naive", _pool_args(ctx.rng, (2, 2, 5, 9), 2, 3, 3))
    _check_forward(ctx, "max_pool_forward_naive", _pool_args(ctx.rng, (1, 2, 5, 7), 3, 2, 1))


@check(points=4, visibility="public")
def max_pool_backward_basic(ctx):
    """max_pool_backward_naive with a 2x2 pool and stride 2."""
    _check_layer_backward(ctx, "max_pool_forward_naive", "max_pool_backward_naive",
                          _pool_args(ctx.rng, (2, 3, 4, 4), 2, 2, 2), {"dx": 0})


@check(points=3, visibility="public")
def max_pool_backward_overlapping(ctx):
    """max_pool_backward_naive with overlapping windows (stride < pool size): gradients add up."""
    _check_layer_backward(ctx, "max_pool_forward_naive", "max_pool_backward_naive",
                          _pool_args(ctx.rng, (2, 2, 5, 5), 2, 2, 1), {"dx": 0})
    _check_layer_backward(ctx, "max_pool_forward_naive", "max_pool_backward_naive",
                          _pool_args(ctx.rng, (1, 3, 7, 6), 3, 3, 2), {"dx": 0})


@check(points=3, visibility="hidden")
def max_pool_backward_nonsquare(ctx):
    """max_pool_backward_naive with non-square pools, odd sizes, overlapping windows, a batch of one."""
    _check_layer_backward(ctx, "max_pool_forward_naive", "max_pool_backward_naive",
                          _pool_args(ctx.rng, (2, 2, 5, 9), 2, 3, 3), {"dx": 0})
    _check_layer_backward(ctx, "max_pool_forward_naive", "max_pool_backward_naive",
                          _pool_args(ctx.rng, (1, 2, 5, 7), 3, 2, 1), {"dx": 0})


@check(points=1, visibility="hidden")
def max_pool_gradcheck(ctx):
    """max_pool_backward_naive agrees with a numerical gradient of your own max_pool_forward_naive."""
    _check_layer_gradcheck(ctx, "max_pool_forward_naive", "max_pool_backward_naive",
                           _pool_args(ctx.rng, (2, 2, 4, 6), 2, 3, 2), {"dx": 0})
