"""Checks of the ``conv`` assignment: output shapes, conv2d, max_pool2d and LeNet.

The reference (``reference/conv.py``) is verified against torch.nn.Conv2d / MaxPool2d and
torch.nn.functional in ``tests/test_reference_conv.py``; here the student's functions are
compared with it. Checks over many configurations stop at the first one that fails and
name it, so the student can reproduce it.
"""

from __future__ import annotations

import numpy as np

from grader.checks import (EXACT, Case, CheckFailed, StudentError, Tolerance, call_text, check, compare, expect_close,
                           plain, show, show_arg, student_error_text)

#: Tolerance for conv2d outputs (float64 inputs; generous enough for any summation order).
CONV_TOL = Tolerance(rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ formatting

# ------------------------------------------------------------------ hints for typical slips

def _size_variants(n, k, s, p, d):
    """Wrong one-dimension formulas students typically write, with what to say about each."""
    variants = []
    if p:
        variants.append(((n + p - d * (k - 1) - 1) // s + 1,
                         "padding is added on both sides: use 2*padding"))
    if d != 1:
        variants.append(((n + 2 * p - k) // s + 1,
                         "the dilated kernel spans dilation*(kernel_size-1)+1 pixels: include the dilation"))
    if s != 1:
        variants.append((-(-(n + 2 * p - d * (k - 1) - 1) // s) + 1,
                         "round the division by stride down (floor), not up"))
        variants.append(((n + 2 * p - d * (k - 1) - 1) / s + 1,
                         "the division by stride must be rounded down (floor) to an integer"))
    variants.append(((n + 2 * p - d * (k - 1) - 1) // s, "do not forget the +1"))
    return variants


def _size_hint(yours, n, k, s=1, p=0, d=1) -> str:
    try:
        value = float(plain(yours))
    except (TypeError, ValueError):
        return ""
    if value == (n + 2 * p - d * (k - 1) - 1) // s + 1:  # this one is right
        return ""
    for wrong, advice in _size_variants(n, k, s, p, d):
        if value == wrong:
            return f" (hint: {advice})"
    return ""


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _shape_hint(yours, input_shape, kernel_size, stride, padding, dilation) -> str:
    """A hint from the first spatial dimension of a shape that matches a typical slip."""
    if not isinstance(yours, (tuple, list)) or len(yours) != 4:
        return ""
    ks, ss, ps, ds = _pair(kernel_size), _pair(stride), _pair(padding), _pair(dilation)
    for axis in (0, 1):
        hint = _size_hint(yours[2 + axis], input_shape[2 + axis], ks[axis], ss[axis], ps[axis], ds[axis])
        if hint:
            return hint
    return ""


def _hint_conv_output_size(ctx, args, kwargs, yours):
    n, k = args
    return _size_hint(yours, n, k, kwargs.get("stride", 1), kwargs.get("padding", 0), kwargs.get("dilation", 1))


def _hint_conv2d_output_shape(ctx, args, kwargs, yours):
    input_shape, _, kernel_size = args
    hint = _shape_hint(yours, input_shape, kernel_size, kwargs.get("stride", 1),
                       kwargs.get("padding", 0), kwargs.get("dilation", 1))
    if not hint and isinstance(yours, (tuple, list)) and len(yours) == 4 and plain(yours[1]) == input_shape[1] \
            and args[1] != input_shape[1]:
        hint = " (hint: the second entry is out_channels, not the input's channels)"
    return hint


def _hint_pool2d_output_shape(ctx, args, kwargs, yours):
    input_shape, kernel_size = args
    stride = kwargs.get("stride")
    if stride is None:
        try:
            with_stride_1 = ctx.reference.pool2d_output_shape(input_shape, kernel_size, 1, kwargs.get("padding", 0))
        except ValueError:
            with_stride_1 = None
        if with_stride_1 is not None and compare(yours, with_stride_1, tol=EXACT).ok:
            return " (hint: when stride is None it defaults to kernel_size, as in MaxPool2d)"
        stride = kernel_size
    return _shape_hint(yours, input_shape, kernel_size, stride, kwargs.get("padding", 0), 1)


# ------------------------------------------------------------------ running many configurations

def _reference_result(ctx, name, args, kwargs):
    """(True, value) or (False, the reason the reference raises ValueError)."""
    try:
        return True, getattr(ctx.reference, name)(*args, **kwargs)
    except ValueError as error:
        return False, str(error)


#: Configurations sent to the sandbox in one round trip: a wrong answer still stops the check
#: after at most one more batch.
BATCH = 64


def _expect_configurations(ctx, name, configs, hint=None):
    """Call the student's ``name`` on each (args, kwargs); stop at the first wrong answer.

    Where the reference returns a value, the student's must equal it exactly; where the
    reference raises ValueError, the student's must raise ValueError too. A configuration may
    carry the reference's verdict already, as ``(args, kwargs, _reference_result(...))``: the
    drawn ones do, worked out once per batch with the drawing.
    """
    configs = list(configs)
    for start in range(0, len(configs), BATCH):
        chunk = configs[start:start + BATCH]
        outcomes = ctx.calls(name, [Case(config[0], config[1]) for config in chunk])
        for config, outcome in zip(chunk, outcomes):
            args, kwargs = config[0], config[1]
            verdict = config[2] if len(config) > 2 else _reference_result(ctx, name, args, kwargs)
            _expect_configuration(ctx, name, args, kwargs, outcome, hint, verdict)


def _expect_configuration(ctx, name, args, kwargs, outcome, hint, verdict):
    valid, expected = verdict
    try:
        yours = outcome.get()
    except StudentError as error:
        if not valid and error.is_instance(ValueError):
            return
        wanted = f"ValueError ({expected})" if not valid else show(expected)
        hint_text = f".{error.hint}" if error.hint else ""
        raise CheckFailed(f"{call_text(name, args, kwargs)} {student_error_text(error, hint=False)}; "
                          f"expected {wanted}{hint_text}") from None
    # The call is written out only for a message: most of the hundreds of cases pass, and an
    # answer of plain ints equal to the reference's (which the exact comparison below would pass)
    # needs no comparison.
    if valid and _plain_ints(yours) and type(yours) is type(expected) and yours == expected:
        return
    if not valid:
        raise CheckFailed(f"{call_text(name, args, kwargs)} returned {show(yours)}; expected it to raise ValueError "
                          f"because {expected}")
    if not compare(yours, expected, path=name, tol=EXACT).ok:
        extra = hint(ctx, args, kwargs, yours) if hint else ""
        raise CheckFailed(f"{call_text(name, args, kwargs)}: {show(yours)} (yours), expected {show(expected)}{extra}")
    if not _all_integers(yours):
        raise CheckFailed(f"{call_text(name, args, kwargs)} returned {show(yours)}: sizes and counts must be ints, "
                          "not floats (use // for floor division, or int(...))")


def _plain_ints(value) -> bool:
    """An int, or a tuple of ints (no bools, numpy scalars or arrays)."""
    return type(value) is int or type(value) is tuple and all(type(v) is int for v in value)


def _all_integers(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_all_integers(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "iu"
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _with_defaults_dropped(rng, kwargs: dict, defaults: dict) -> dict:
    """Leave out, at random, keyword arguments equal to their default (so defaults get used)."""
    return {k: v for k, v in kwargs.items() if not (k in defaults and v == defaults[k] and rng.random() < 0.5)}


def _one_or_pair(rng, draw, pair_probability):
    if rng.random() < pair_probability:
        return (draw(), draw())
    return draw()


def _draw_size_args(rng):
    """n, kernel_size, stride, padding, dilation drawn for one dimension."""
    n = int(rng.integers(1, 65)) if rng.random() < 0.85 else int(rng.integers(65, 1025))
    k = int(rng.integers(1, 8))
    s = int(rng.choice([1, 1, 2, 2, 3, 4, 5]))
    p = int(rng.integers(0, 4))
    d = 1 if rng.random() < 0.4 else int(rng.integers(2, 5))
    return n, k, s, p, d


# Each ``_valid_*``/``_invalid_*`` below draws configurations from ``ctx.rng`` and keeps those
# the reference accepts (or refuses), with its verdict: the same ones for every submission, so
# checks take them through ``ctx.once``, which draws them (and asks the reference) once per batch.

def _valid_size_configs(ctx, count):
    rng, configs = ctx.rng, []
    while len(configs) < count:
        n, k, s, p, d = _draw_size_args(rng)
        kwargs = _with_defaults_dropped(rng, {"stride": s, "padding": p, "dilation": d},
                                        {"stride": 1, "padding": 0, "dilation": 1})
        verdict = _reference_result(ctx, "conv_output_size", (n, k), kwargs)
        if verdict[0]:
            configs.append(((n, k), kwargs, verdict))
    return configs


def _break_one(rng, kind, n, k, s, p, d, *, dilation=True):
    """Make (n, k, s, p, d) invalid in the way ``kind`` says."""
    if kind == "kernel_size":
        k = int(rng.choice([0, 0, -1, -3]))
    elif kind == "stride":
        s = int(rng.choice([0, 0, -1, -2]))
    elif kind == "dilation":
        d = int(rng.choice([0, 0, -1]))
    elif kind == "padding":
        p = int(rng.choice([-1, -1, -2, -3]))
    else:  # too small: the dilated kernel does not fit in the padded input
        n = int(rng.integers(1, 10))
        p = int(rng.integers(0, 3))
        d = int(rng.integers(1, 4)) if dilation else 1
        k = -(-(n + 2 * p) // d) + 1 + int(rng.integers(0, 3))
    return n, k, s, p, d


def _invalid_size_configs(ctx, count):
    rng, configs = ctx.rng, []
    kinds = ["kernel_size", "stride", "dilation", "padding", "too_small", "too_small"]
    while len(configs) < count:
        kind = kinds[len(configs) % len(kinds)]
        n, k, s, p, d = _break_one(rng, kind, *_draw_size_args(rng))
        kwargs = _with_defaults_dropped(rng, {"stride": s, "padding": p, "dilation": d},
                                        {"stride": 1, "padding": 0, "dilation": 1})
        verdict = _reference_result(ctx, "conv_output_size", (n, k), kwargs)
        if not verdict[0]:
            configs.append(((n, k), kwargs, verdict))
    return configs


def _draw_conv_shape_config(rng):
    input_shape = (int(rng.integers(1, 9)), int(rng.integers(1, 17)), int(rng.integers(1, 65)), int(rng.integers(1, 65)))
    out_channels = int(rng.integers(1, 129))
    kernel_size = _one_or_pair(rng, lambda: int(rng.integers(1, 8)), 0.4)
    stride = _one_or_pair(rng, lambda: int(rng.choice([1, 1, 2, 3, 4])), 0.3)
    padding = _one_or_pair(rng, lambda: int(rng.integers(0, 4)), 0.3)
    dilation = _one_or_pair(rng, lambda: 1 if rng.random() < 0.5 else int(rng.integers(2, 4)), 0.3)
    return input_shape, out_channels, kernel_size, stride, padding, dilation


def _valid_conv_shape_configs(ctx, count):
    rng, configs = ctx.rng, []
    while len(configs) < count:
        input_shape, c_out, k, s, p, d = _draw_conv_shape_config(rng)
        kwargs = _with_defaults_dropped(rng, {"stride": s, "padding": p, "dilation": d},
                                        {"stride": 1, "padding": 0, "dilation": 1})
        verdict = _reference_result(ctx, "conv2d_output_shape", (input_shape, c_out, k), kwargs)
        if verdict[0]:
            configs.append(((input_shape, c_out, k), kwargs, verdict))
    return configs


def _invalid_conv_shape_configs(ctx, count):
    rng, configs = ctx.rng, []
    kinds = ["kernel_size", "stride", "dilation", "padding", "too_small", "too_small"]
    while len(configs) < count:
        kind = kinds[len(configs) % len(kinds)]
        n_, c_, h, w = (int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 33)), int(rng.integers(1, 33)))
        axis = int(rng.integers(0, 3))  # 0: height only, 1: width only, 2: both (as an int)
        good = _draw_size_args(rng)
        bad = _break_one(rng, kind, *good)
        size = bad[0]
        values = []
        for i in (1, 2, 3, 4):
            values.append(bad[i] if axis == 2 else ((bad[i], good[i]) if axis == 0 else (good[i], bad[i])))
        if axis == 2:
            h = w = size
        elif axis == 0:
            h = size
        else:
            w = size
        k, s, p, d = values
        args = ((n_, c_, h, w), int(rng.integers(1, 17)), k)
        kwargs = {"stride": s, "padding": p, "dilation": d}
        verdict = _reference_result(ctx, "conv2d_output_shape", args, kwargs)
        if not verdict[0]:
            configs.append((args, kwargs, verdict))
    return configs


def _draw_pool_shape_config(rng):
    input_shape = (int(rng.integers(1, 9)), int(rng.integers(1, 17)), int(rng.integers(1, 65)), int(rng.integers(1, 65)))
    kernel_size = _one_or_pair(rng, lambda: int(rng.integers(1, 6)), 0.3)
    stride = None if rng.random() < 0.35 else _one_or_pair(rng, lambda: int(rng.integers(1, 5)), 0.3)
    kh, kw = _pair(kernel_size)
    if rng.random() < 0.5:
        padding = 0
    elif isinstance(kernel_size, tuple) or rng.random() < 0.3:
        padding = (int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1)))
    else:
        padding = int(rng.integers(0, min(kh, kw) // 2 + 1))
    return input_shape, kernel_size, stride, padding


def _valid_pool_shape_configs(ctx, count):
    rng, configs = ctx.rng, []
    while len(configs) < count:
        input_shape, k, s, p = _draw_pool_shape_config(rng)
        kwargs = {"stride": s, "padding": p}
        kwargs = _with_defaults_dropped(rng, kwargs, {"stride": None, "padding": 0})
        verdict = _reference_result(ctx, "pool2d_output_shape", (input_shape, k), kwargs)
        if verdict[0]:
            configs.append(((input_shape, k), kwargs, verdict))
    return configs


def _invalid_pool_shape_configs(ctx, count):
    rng, configs = ctx.rng, []
    kinds = ["half_kernel", "half_kernel", "half_kernel", "kernel_size", "stride", "padding", "too_small"]
    while len(configs) < count:
        kind = kinds[len(configs) % len(kinds)]
        input_shape, k, s, p = _draw_pool_shape_config(rng)
        kh, kw = _pair(k)
        if kind == "half_kernel":
            if rng.random() < 0.5:
                p = kh // 2 + 1 + int(rng.integers(0, 2)) if not isinstance(k, tuple) else (kh // 2 + 1, 0)
            else:
                p = (0, kw // 2 + 1) if isinstance(k, tuple) else min(kh, kw) // 2 + 1
        elif kind == "kernel_size":
            k, p = int(rng.choice([0, -1])), 0
        elif kind == "stride":
            s = int(rng.choice([0, -1]))
        elif kind == "padding":
            p = int(rng.choice([-1, -2]))
        else:
            k = int(rng.integers(2, 6))
            p = int(rng.integers(0, k // 2 + 1))
            size = int(rng.integers(1, max(2, k - 2 * p)))
            input_shape = (*input_shape[:2], size, input_shape[3]) if rng.random() < 0.5 else (*input_shape[:3], size)
        args, kwargs = (input_shape, k), {"stride": s, "padding": p}
        verdict = _reference_result(ctx, "pool2d_output_shape", args, kwargs)
        if not verdict[0]:
            configs.append((args, kwargs, verdict))
    return configs


# ------------------------------------------------------------------ conv2d and max_pool2d helpers

def _conv_call_text(x, w, b, kwargs):
    parts = [f"x of shape {tuple(x.shape)}", f"w of shape {tuple(w.shape)}",
             "b=None" if b is None else f"b of shape {tuple(b.shape)}"]
    parts += [f"{k}={show_arg(v)}" for k, v in kwargs.items()]
    return f"conv2d({', '.join(parts)})"


def _expect_conv2d(ctx, x, w, b=None, *, pass_b=True, **kwargs):
    _expect_conv2d_cases(ctx, [(x, w, b, pass_b, kwargs)])


def _expect_conv2d_cases(ctx, cases):
    """conv2d on each ``(x, w, b, pass_b, kwargs)``, all in one round trip; the first case that
    differs from the reference fails the check and is named (``pass_b=False`` leaves b out)."""
    outcomes = ctx.calls("conv2d", [Case((x, w, b) if pass_b else (x, w), kwargs) for x, w, b, pass_b, kwargs in cases])
    for (x, w, b, _, kwargs), outcome in zip(cases, outcomes):
        _judge_conv2d(ctx, x, w, b, kwargs, outcome)


def _judge_conv2d(ctx, x, w, b, kwargs, outcome):
    call = _conv_call_text(x, w, b, kwargs)
    expected = ctx.reference.conv2d(x, w, b, **kwargs)
    try:
        yours = outcome.get()
    except StudentError as error:
        raise CheckFailed(f"{call} {student_error_text(error)}") from None
    result = compare(yours, expected, path=call, tol=CONV_TOL)
    if result.ok:
        return
    message = result.message
    if isinstance(yours, np.ndarray) and yours.ndim == 4 and yours.shape != expected.shape:
        message += _shape_hint(yours.shape, x.shape, w.shape[2:], kwargs.get("stride", 1), kwargs.get("padding", 0), 1)
    if isinstance(yours, np.ndarray) and yours.shape == expected.shape:
        flipped = ctx.reference.conv2d(x, w[:, :, ::-1, ::-1], b, **kwargs)
        if compare(yours, flipped, path=call, tol=CONV_TOL).ok:
            message += ("; hint: yours equals a true convolution (kernel flipped by 180 degrees): "
                        "conv2d must compute cross-correlation like PyTorch, do not flip the kernel")
        elif b is not None and compare(yours, ctx.reference.conv2d(x, w, None, **kwargs), path=call, tol=CONV_TOL).ok:
            message += "; hint: yours equals the result without the bias b: add b[c_out] to every output of channel c_out"
    raise CheckFailed(message)


def _expect_max_pool2d(ctx, x, kernel_size, stride="default"):
    _expect_max_pool2d_cases(ctx, [(x, kernel_size, stride)])


def _expect_max_pool2d_cases(ctx, cases):
    """max_pool2d on each ``(x, kernel_size, stride)`` (``"default"``: stride left out), all in
    one round trip; the first case that differs from the reference fails the check."""
    calls = [(x, kernel_size, {} if stride == "default" else {"stride": stride}) for x, kernel_size, stride in cases]
    outcomes = ctx.calls("max_pool2d", [Case((x, kernel_size), kwargs) for x, kernel_size, kwargs in calls])
    for (x, kernel_size, stride), outcome in zip(cases, outcomes):
        _judge_max_pool2d(ctx, x, kernel_size, stride, outcome)


def _judge_max_pool2d(ctx, x, kernel_size, stride, outcome):
    kwargs = {} if stride == "default" else {"stride": stride}
    call = f"max_pool2d(x of shape {tuple(x.shape)}, kernel_size={show_arg(kernel_size)}" + \
        "".join(f", {k}={show_arg(v)}" for k, v in kwargs.items()) + ")"
    expected = ctx.reference.max_pool2d(x, kernel_size, **kwargs)
    try:
        yours = outcome.get()
    except StudentError as error:
        raise CheckFailed(f"{call} {student_error_text(error)}") from None
    result = compare(yours, expected, path=call, tol=EXACT)
    if result.ok:
        return
    message = result.message
    if stride in ("default", None) and isinstance(yours, np.ndarray):
        with_stride_1 = ctx.reference.max_pool2d(x, kernel_size, 1)
        if yours.shape == with_stride_1.shape:
            message += "; hint: when stride is not given (None) it defaults to kernel_size, as in MaxPool2d"
    elif isinstance(yours, np.ndarray) and yours.ndim == 4 and yours.shape != expected.shape:
        message += _shape_hint(yours.shape, x.shape, kernel_size, kernel_size if stride in ("default", None) else stride, 0, 1)
    elif isinstance(yours, np.ndarray) and yours.shape == expected.shape and np.all(expected < 0) and np.any(yours == 0):
        message += "; hint: the windows here are all negative: do not start the running maximum at 0"
    raise CheckFailed(message)


def _random_conv_case(rng, *, pairs=False):
    n = 1 if rng.random() < 0.25 else int(rng.integers(2, 4))
    c_in, c_out = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    height, width = int(rng.integers(3, 12)), int(rng.integers(3, 12))
    kh, kw = int(rng.integers(1, min(height, 5) + 1)), int(rng.integers(1, min(width, 5) + 1))
    if pairs:
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        padding = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
    else:
        stride, padding = int(rng.integers(1, 4)), int(rng.integers(0, 3))
    x = rng.standard_normal((n, c_in, height, width))
    w = rng.standard_normal((c_out, c_in, kh, kw))
    b = None if rng.random() < 0.3 else rng.standard_normal(c_out)
    return x, w, b, stride, padding


# ================================================================== output sizes

@check(points=2, visibility="public")
def conv_output_size_examples(ctx):
    """conv_output_size on textbook examples (valid padding, same padding, stride 2, dilation)."""
    _expect_configurations(ctx, "conv_output_size", [
        ((32, 5), {}), ((28, 5), {}), ((5, 3), {"padding": 1}), ((7, 3), {"stride": 2, "padding": 1}),
        ((224, 7), {"stride": 2, "padding": 3}), ((7, 3), {"dilation": 2}),
        ((10, 3), {"stride": 3}), ((7, 3), {"stride": 2, "padding": 1, "dilation": 2}),
    ], hint=_hint_conv_output_size)


@check(points=3, visibility="public")
def conv_output_size_random(ctx):
    """conv_output_size agrees with torch.nn.Conv2d on 100 random configurations."""
    _expect_configurations(ctx, "conv_output_size", ctx.once(_valid_size_configs, 100), hint=_hint_conv_output_size)


@check(points=2, visibility="public")
def conv_output_size_rejects_invalid(ctx):
    """conv_output_size raises ValueError for kernel_size, stride or dilation < 1, padding < 0, or no output."""
    _expect_configurations(ctx, "conv_output_size", [
        ((5, 0), {}), ((5, 3), {"stride": 0}), ((5, 3), {"dilation": 0}), ((5, 3), {"padding": -1}),
        ((3, 5), {}), ((4, 3), {"dilation": 2}),
    ])


@check(points=3, visibility="hidden")
def conv_output_size_many(ctx):
    """conv_output_size agrees with torch.nn.Conv2d on 300 more random configurations."""
    _expect_configurations(ctx, "conv_output_size", ctx.once(_valid_size_configs, 300), hint=_hint_conv_output_size)


@check(points=2, visibility="hidden")
def conv_output_size_rejects_invalid_many(ctx):
    """conv_output_size raises ValueError on 90 random invalid configurations."""
    _expect_configurations(ctx, "conv_output_size", ctx.once(_invalid_size_configs, 90))


@check(points=2, visibility="public")
def conv2d_output_shape_examples(ctx):
    """conv2d_output_shape on examples, including (h, w) pairs and dilation."""
    _expect_configurations(ctx, "conv2d_output_shape", [
        (((1, 1, 28, 28), 6, 5), {}),
        (((8, 3, 32, 32), 16, 3), {"padding": 1}),
        (((2, 3, 224, 224), 64, 7), {"stride": 2, "padding": 3}),
        (((4, 3, 20, 30), 8, (3, 5)), {"stride": (1, 2), "padding": (1, 2)}),
        (((1, 2, 15, 15), 4, 3), {"dilation": 2}),
        (((1, 2, 15, 17), 4, (3, 2)), {"stride": 2, "padding": (0, 1), "dilation": (2, 3)}),
    ], hint=_hint_conv2d_output_shape)


@check(points=3, visibility="hidden")
def conv2d_output_shape_many(ctx):
    """conv2d_output_shape agrees with torch.nn.Conv2d on 200 random configurations (ints and pairs)."""
    _expect_configurations(ctx, "conv2d_output_shape", ctx.once(_valid_conv_shape_configs, 200),
                           hint=_hint_conv2d_output_shape)


@check(points=1, visibility="hidden")
def conv2d_output_shape_rejects_invalid(ctx):
    """conv2d_output_shape raises ValueError where torch.nn.Conv2d cannot run (60 configurations)."""
    _expect_configurations(ctx, "conv2d_output_shape", ctx.once(_invalid_conv_shape_configs, 60))


@check(points=2, visibility="public")
def pool2d_output_shape_examples(ctx):
    """pool2d_output_shape on examples with an explicit stride, padding and (h, w) pairs."""
    _expect_configurations(ctx, "pool2d_output_shape", [
        (((1, 6, 24, 24), 2), {"stride": 2}),
        (((2, 16, 9, 9), 3), {"stride": 2}),
        (((1, 64, 112, 112), 3), {"stride": 2, "padding": 1}),
        (((3, 4, 10, 7), (2, 3)), {"stride": (2, 1), "padding": (1, 0)}),
    ], hint=_hint_pool2d_output_shape)


@check(points=1, visibility="public")
def pool2d_output_shape_default_stride(ctx):
    """pool2d_output_shape: stride defaults to kernel_size, as in MaxPool2d."""
    _expect_configurations(ctx, "pool2d_output_shape", [
        (((1, 6, 24, 24), 2), {}),
        (((2, 3, 7, 9), 3), {}),
        (((2, 3, 7, 9), 3), {"stride": None, "padding": 1}),
    ], hint=_hint_pool2d_output_shape)


@check(points=3, visibility="hidden")
def pool2d_output_shape_many(ctx):
    """pool2d_output_shape agrees with torch.nn.MaxPool2d on 200 random configurations."""
    _expect_configurations(ctx, "pool2d_output_shape", ctx.once(_valid_pool_shape_configs, 200),
                           hint=_hint_pool2d_output_shape)


@check(points=2, visibility="hidden")
def pool2d_output_shape_rejects_invalid(ctx):
    """pool2d_output_shape raises ValueError where MaxPool2d cannot run, e.g. padding > kernel_size/2."""
    _expect_configurations(ctx, "pool2d_output_shape", ctx.once(_invalid_pool_shape_configs, 70))


# ================================================================== parameters

@check(points=1, visibility="public")
def conv2d_param_count_examples(ctx):
    """conv2d_param_count counts weights and biases like torch.nn.Conv2d."""
    _expect_configurations(ctx, "conv2d_param_count", [
        ((1, 6, 5), {}), ((6, 16, 5), {}), ((3, 64, 3), {"bias": False}), ((3, 16, (3, 5)), {}),
    ], hint=_hint_param_count)


def _hint_param_count(ctx, args, kwargs, yours):
    in_channels, out_channels, kernel_size = args
    kh, kw = _pair(kernel_size)
    try:
        value = int(plain(yours))
    except (TypeError, ValueError):
        return ""
    if value == out_channels * in_channels * kh * kw:
        return " (hint: count the biases too, one per output channel)"
    if value == out_channels * in_channels * kh * kw + 1:
        return f" (hint: each of the {out_channels} output channels has a bias of its own, not one for the layer)"
    if value == out_channels * kh * kw + out_channels:
        return f" (hint: each filter spans all {in_channels} input channels: out·in·kh·kw weights)"
    return ""


@check(points=1, visibility="public")
def conv2d_param_count_lecture(ctx):
    """The lectures' counts: Conv2d(3, 2, 3) has 56 parameters, AlexNet's conv1 (3 → 96, 11×11) 34,944."""
    _expect_configurations(ctx, "conv2d_param_count", [(args, {}) for args in ctx.reference.LECTURE_PARAM_COUNTS],
                           hint=_hint_param_count)


@check(points=1, visibility="hidden")
def conv2d_param_count_many(ctx):
    """conv2d_param_count agrees with torch.nn.Conv2d on 40 random layers."""
    rng, configs = ctx.rng, []
    for _ in range(40):
        kernel_size = _one_or_pair(rng, lambda: int(rng.integers(1, 8)), 0.4)
        kwargs = {} if rng.random() < 0.3 else {"bias": bool(rng.random() < 0.5)}
        configs.append(((int(rng.integers(1, 257)), int(rng.integers(1, 257)), kernel_size), kwargs))
    _expect_configurations(ctx, "conv2d_param_count", configs)


@check(points=1, visibility="hidden")
def fully_connected_as_convolution(ctx):
    """An 800x800 image to 100 units: a kernel covering the image has the FC layer's 64,000,000 weights."""
    _expect_configurations(ctx, "conv2d_param_count", [((1, 100, 800), {"bias": False}),
                                                        ((1, 100, (800, 800)), {"bias": True})])
    _expect_configurations(ctx, "conv2d_output_shape", [(((1, 1, 800, 800), 100, 800), {})])


# ================================================================== conv2d

@check(points=3, visibility="public")
def conv2d_lecture_sharpen(ctx):
    """conv2d of the lecture's 5x5 binary image with the sharpen kernel gives [[3,3,-2],[-3,-3,4],[3,3,-4]]."""
    x = ctx.reference.LECTURE_IMAGE[None, None].astype(np.float64)
    w = ctx.reference.SHARPEN_KERNEL[None, None].astype(np.float64)
    try:
        yours = ctx.student.conv2d(x, w)
    except StudentError as error:
        raise CheckFailed(f"conv2d(lecture image, sharpen kernel) {student_error_text(error)}") from None
    expect_close(yours, ctx.reference.LECTURE_SHARPENED[None, None].astype(np.float64),
                 name="conv2d(lecture image of shape (1, 1, 5, 5), sharpen kernel of shape (1, 1, 3, 3))",
                 rtol=CONV_TOL.rtol, atol=CONV_TOL.atol)


def _expect_lecture_conv2d(ctx, what, x, w, expected, **kwargs):
    """conv2d on one of the lecture's 2-D examples (made 4-D), against its printed result."""
    call = f"conv2d({what}{''.join(f', {k}={v}' for k, v in kwargs.items())})"
    try:
        yours = ctx.student.conv2d(x[None, None].astype(np.float64), w[None, None].astype(np.float64), **kwargs)
    except StudentError as error:
        raise CheckFailed(f"{call} {student_error_text(error)}") from None
    expect_close(yours, expected[None, None].astype(np.float64), name=call, rtol=CONV_TOL.rtol, atol=CONV_TOL.atol)


@check(points=1, visibility="public")
def conv2d_lecture_x_filter(ctx):
    """The X-shaped filter on a 5x5 image of an X gives [[3,0,3],[0,5,0],[3,0,3]]: strongest at the centre."""
    ref = ctx.reference
    _expect_lecture_conv2d(ctx, "image of an X of shape (1, 1, 5, 5), X-shaped filter of shape (1, 1, 3, 3)",
                           ref.X_IMAGE, ref.X_FILTER, ref.X_FILTERED)


@check(points=1, visibility="public")
def conv2d_average_pooling(ctx):
    """Average pooling of the lecture's 4x4 example is conv2d with a 2x2 kernel of 1/4: [[13,8],[79,19.5]]."""
    ref = ctx.reference
    _expect_lecture_conv2d(ctx, "the 4x4 pooling example of shape (1, 1, 4, 4), a 2x2 kernel of 0.25",
                           ref.LECTURE_POOL_INPUT, np.full((2, 2), 0.25), ref.LECTURE_AVG_POOLED, stride=2)


@check(points=3, visibility="public")
def conv2d_basic(ctx):
    """conv2d with several channels and a bias, stride 1, no padding, against torch.nn.functional.conv2d."""
    rng = ctx.rng
    x, w, b = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    _expect_conv2d(ctx, x, w, b)


@check(points=2, visibility="public")
def conv2d_stride_padding(ctx):
    """conv2d with stride 2 and padding 1 (zero padding on every side)."""
    rng = ctx.rng
    x, w, b = rng.standard_normal((1, 2, 7, 8)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    _expect_conv2d(ctx, x, w, b, stride=2, padding=1)


@check(points=4, visibility="hidden")
def conv2d_random(ctx):
    """conv2d matches torch.nn.functional.conv2d on 20 random inputs (strides, paddings, b=None, batch of one)."""
    rng, cases = ctx.rng, []
    for trial in range(20):
        x, w, b, stride, padding = _random_conv_case(rng)
        if trial % 4 == 0:  # leave out b altogether: it defaults to None
            cases.append((x, w, None, False, {"stride": stride, "padding": padding}))
        else:
            cases.append((x, w, b, True, {"stride": stride, "padding": padding}))
    _expect_conv2d_cases(ctx, cases)


@check(points=1, visibility="hidden")
def conv2d_pair_stride_padding(ctx):
    """conv2d accepts (h, w) pairs for stride and padding."""
    rng, cases = ctx.rng, []
    for _ in range(6):
        x, w, b, stride, padding = _random_conv_case(rng, pairs=True)
        cases.append((x, w, b, True, {"stride": stride, "padding": padding}))
    _expect_conv2d_cases(ctx, cases)


# ================================================================== max_pool2d

@check(points=2, visibility="public")
def max_pool2d_lecture(ctx):
    """max_pool2d of the lecture's 4x4 example with 2x2 windows and stride 2 gives [[20,30],[112,37]]."""
    x = ctx.reference.LECTURE_POOL_INPUT[None, None].astype(np.float64)
    _expect_max_pool2d(ctx, x, 2, 2)


@check(points=1, visibility="public")
def max_pool2d_default_stride(ctx):
    """max_pool2d: stride defaults to kernel_size."""
    _expect_max_pool2d_cases(ctx, [(ctx.reference.LECTURE_POOL_INPUT[None, None].astype(np.float64), 2, "default"),
                                   (ctx.rng.standard_normal((2, 3, 9, 7)), 3, "default")])


@check(points=3, visibility="hidden")
def max_pool2d_random(ctx):
    """max_pool2d matches torch.nn.functional.max_pool2d on 20 random inputs (overlapping windows, negatives)."""
    rng, cases = ctx.rng, []
    for trial in range(20):
        n = 1 if trial % 4 == 0 else int(rng.integers(2, 4))
        x = rng.standard_normal((n, int(rng.integers(1, 4)), int(rng.integers(4, 13)), int(rng.integers(4, 13))))
        if trial % 5 == 0:
            x = -np.abs(x)  # all negative: a running max must not start at 0
        kernel_size = int(rng.integers(1, 5))
        cases.append((x, kernel_size, ["default", None, 1, 2, 3][trial % 5]))
    _expect_max_pool2d_cases(ctx, cases)


@check(points=1, visibility="hidden")
def max_pool2d_pairs(ctx):
    """max_pool2d accepts (h, w) pairs for kernel_size and stride."""
    rng, cases = ctx.rng, []
    for trial in range(6):
        x = rng.standard_normal((int(rng.integers(1, 3)), 2, int(rng.integers(5, 12)), int(rng.integers(5, 12))))
        kernel_size = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        stride = "default" if trial % 3 == 0 else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        cases.append((x, kernel_size, stride))
    _expect_max_pool2d_cases(ctx, cases)


# ================================================================== LeNet

def _expect_lenet(ctx, args, kwargs):
    call = call_text("lenet_shapes", args, kwargs)
    expected = ctx.reference.lenet_shapes(*args, **kwargs)
    try:
        yours = ctx.student.lenet_shapes(*args, **kwargs)
    except StudentError as error:
        raise CheckFailed(f"{call} {student_error_text(error)}") from None
    if compare(yours, expected, path=call, tol=EXACT).ok:
        return
    stages = "conv1, pool1, conv2, pool2, flatten"
    message = f"{call}: {show(yours)} (yours), expected {show(expected)}"
    if isinstance(yours, (list, tuple)) and len(yours) != len(expected):
        message += f" (one shape per stage: {stages}; ReLU does not change the shape)"
    raise CheckFailed(message)


@check(points=2, visibility="public")
def lenet_shapes_28(ctx):
    """lenet_shapes() for the lecture's 28x28 input, ending in (256,)."""
    _expect_lenet(ctx, (), {})
    _expect_lenet(ctx, (28, 28), {})


_LENET_FC = (" (the lecture's LeNet continues after the flatten with fully connected layers 256 → 120 → 84 → 10: "
             "the first is a convolution whose 4x4 kernel covers the whole 16 x 4 x 4 map, the others 1x1 "
             "convolutions; each has inputs · outputs weights and one bias per output)")


def _lenet_fc_shape_hint(ctx, args, kwargs, yours):
    return _hint_conv2d_output_shape(ctx, args, kwargs, yours) + _LENET_FC


def _lenet_fc_count_hint(ctx, args, kwargs, yours):
    return _hint_param_count(ctx, args, kwargs, yours) + _LENET_FC


@check(points=2, visibility="public")
def lenet_shapes_then_fully_connected(ctx):
    """After the flatten, the lecture's LeNet is 256 → 120 → 84 → 10: 30,840, 10,164, 850 parameters."""
    _expect_lenet(ctx, (), {})
    flat, *hidden = ctx.reference.LENET_FC_SIZES
    _expect_configurations(ctx, "conv2d_output_shape", [(((1, 16, 4, 4), hidden[0], 4), {})],
                           hint=_lenet_fc_shape_hint)
    layers = [((16, hidden[0], 4), {})] + [((a, b, 1), {}) for a, b in zip(hidden, hidden[1:])]
    _expect_configurations(ctx, "conv2d_param_count", layers, hint=_lenet_fc_count_hint)


@check(points=2, visibility="hidden")
def lenet_shapes_other_sizes(ctx):
    """lenet_shapes for 32x32 (the classic LeNet-5 input, (400,)) and non-square inputs."""
    _expect_lenet(ctx, (32, 32), {})
    _expect_lenet(ctx, (36, 28), {})
    _expect_lenet(ctx, (), {"height": 29, "width": 33})
