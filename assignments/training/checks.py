"""Checks of the ``training`` assignment (PyTorch training loops).

Training loops are checked through the harness (``harness.py``): it builds a seeded model,
a loader with a fixed order, a loss and an optimizer inside the sandbox, calls the
student's function on them and reports the resulting parameters together with a log of
what the loop did (loss computed, backward, step, per batch). The same harness function
runs with the reference in the trusted process; the parameters must agree, and when they
do not, the log says why (missing ``zero_grad``, a step before ``backward``, a summed loss).
"""

from __future__ import annotations

import math

import numpy as np

from grader.checks import CheckFailed, StudentError, as_numpy, check, expect, expect_close, expect_equal

#: Tolerances for parameters and losses after a few float32 SGD steps.
RTOL, ATOL = 1e-5, 1e-6

#: The spiral training run: 300 points, a 64-unit hidden layer, Adam, 60 epochs of batches of 32.
#: (hidden, epochs, batch_size, lr) — harness arguments travel positionally.
SPIRAL = (64, 60, 32, 0.02)
SPIRAL_EPOCHS = SPIRAL[1]
SPIRAL_TARGET = 0.95


# ---------------------------------------------------------------------------------------
# Helpers (trusted side).


def _number(info: dict, call: str) -> float:
    """The float a student returned (as described by the harness), or a failure saying what is wrong."""
    if info["type"] == "Tensor":
        if info["requires_grad"]:
            raise CheckFailed(
                f"{call} returned a tensor that is still attached to the autograd graph; return a Python "
                "float (use loss.item() when you add up the batch losses, which also frees each batch's graph)")
        if info["value"] is None:
            raise CheckFailed(f"{call} returned a tensor of shape {tuple(info['shape'])}; expected a single float")
        return info["value"]
    if info["value"] is None:
        raise CheckFailed(f"{call} returned a {info['type']}; expected a float")
    return info["value"]


def _loop(call: str, function, *args):
    """Run a training-loop harness call; explain PyTorch's error for a step before backward."""
    try:
        return function(*args)
    except StudentError as error:
        if "modified by an inplace operation" in error.message:
            raise CheckFailed(
                f"{call} raised {error.type_name} ('a variable needed for gradient computation has been modified "
                "by an inplace operation'): optimizer.step() changed the parameters before loss.backward() used "
                "them; the order for each batch is zero_grad, forward, loss, backward, step") from None
        raise


def _close(a: float, b: float, rtol: float = RTOL, atol: float = ATOL) -> bool:
    return math.isfinite(a) and abs(a - b) <= atol + rtol * abs(b)


def _describe_layers(structure: dict) -> str:
    parts = []
    for layer in structure["layers"]:
        if layer["type"] == "Linear":
            bias = "" if layer["bias"] else ", no bias"
            parts.append(f"Linear({layer['in_features']}→{layer['out_features']}{bias})")
        else:
            parts.append(layer["type"])
    return ", ".join(parts) or "no layers"


def _compare_mlp(yours: dict, expected: dict, call: str) -> None:
    if not yours["is_module"]:
        raise CheckFailed(f"{call} returned a {yours['class']}; expected a torch.nn.Sequential")
    if not yours["is_sequential"]:
        raise CheckFailed(f"{call} returned a {yours['class']}; expected a torch.nn.Sequential of layers")
    have, want = _describe_layers(yours), _describe_layers(expected)
    if have != want:
        hints = []
        types = [layer["type"] for layer in yours["layers"]]
        if types and types[-1] in ("Softmax", "LogSoftmax", "Sigmoid"):
            hints.append(f"no {types[-1]} at the end: the network outputs raw scores (CrossEntropyLoss applies the softmax itself)")
        elif types and types[-1] == "ReLU":
            hints.append("no ReLU after the last Linear: the output scores must be able to be negative")
        hint = ("; " + "; ".join(hints)) if hints else ""
        raise CheckFailed(f"{call} has the layers [{have}]; expected [{want}]{hint}")
    expect_equal(yours["output_shape"], expected["output_shape"], name=f"{call} output shape on a batch of 5")


def _diagnose_loop(yours: dict, n_batches: int, call: str) -> str | None:
    """Why the student's loop went wrong, from the harness's event log, if it can be told."""
    events = yours["events"]
    if "L" not in events:
        return (f"{call} never called loss_fn: compute each batch's loss with the loss_fn it is given "
                "(loss = loss_fn(model(inputs), targets))")
    if "S" not in events:
        return f"{call} never called optimizer.step(), so the parameters never change"
    drawn = events.count("D")
    if drawn < n_batches:
        return f"{call} went through {drawn} of the {n_batches} batches of the loader; one epoch is a full pass"
    if "accumulated" in yours["step_grads"]:
        return ("the gradients accumulate from batch to batch: call optimizer.zero_grad() for every batch, "
                "before loss.backward() (PyTorch adds new gradients to the old ones)")
    if "none" in yours["step_grads"]:
        index = yours["step_grads"].index("none")
        step_at = [i for i, e in enumerate(events) if e == "S"][index]
        chunk = events[events.rfind("D", 0, step_at) + 1:step_at]
        if "B" in chunk:
            return (f"optimizer.step() found no gradient at step {index + 1} although loss.backward() had run: "
                    "the gradients were cleared between backward and step. The order for each batch is "
                    "zero_grad, forward, loss, backward, step")
        return (f"optimizer.step() ran without any gradient (at step {index + 1}): the order for each batch is "
                "zero_grad, forward, loss, backward, step — call loss.backward() before optimizer.step()")
    scales = [g for g in yours["loss_grads"] if not _close(g, 1.0)]
    if scales:
        return (f"backward started from {scales[0]:g} × the loss of a batch (a sum over the batch, or a "
                "multiplication by the batch size?): call loss.backward() on the mean loss that loss_fn returns")
    names = {"L": "loss", "B": "backward", "S": "step"}
    chunks = events.split("D")[1:]
    for index, chunk in enumerate(chunks):
        if chunk != "LBS":
            done = ", ".join(names[e] for e in chunk) or "nothing"
            return (f"in batch {index + 1} your loop did: {done}; expected: loss, backward, step "
                    "(once each, after optimizer.zero_grad())")
    return None


def _compare_epoch_params(yours: dict, expected: dict, call: str) -> None:
    """The parameters after the student's loop equal the reference's; if not, say why when possible."""
    try:
        expect_close(yours["params"], expected["params"], name="params", rtol=RTOL, atol=ATOL)
        return
    except CheckFailed as failure:
        detail = str(failure)
    diagnosis = _diagnose_loop(yours, expected["n_batches"], call)
    if diagnosis is None and "params_before" in yours and all(
            np.array_equal(yours["params"].get(k), v) for k, v in yours["params_before"].items()):
        diagnosis = f"the parameters did not change at all during {call}"
    message = f"parameters after {call} differ from the expected ones"
    raise CheckFailed(f"{message}: {diagnosis}" if diagnosis else f"{message} ({detail})")


def _diagnose_mean(value: float, losses: list, sizes: list) -> str | None:
    if not losses:
        return None
    candidates = [
        (sum(losses), "the sum of the batch losses; divide by the number of batches"),
        (sum(losses) / max(sum(sizes), 1), "the sum of the batch losses divided by the number of samples; "
                                            "divide by the number of batches"),
        (sum(l * s for l, s in zip(losses, sizes)) / max(sum(sizes), 1),
         "the mean weighted by batch size; the contract asks for the plain mean of the batch losses "
         "(sum of the batch losses / number of batches)"),
        (losses[-1], "the loss of the last batch only; return the mean over all batches"),
        (losses[0], "the loss of the first batch only; return the mean over all batches"),
    ]
    for candidate, explanation in candidates:
        if _close(value, candidate):
            return f"yours is {explanation}"
    return None


def _check_mean_loss(yours: dict, expected: dict, call: str) -> None:
    value = _number(yours["mean_loss"], call)
    losses = yours["batch_losses"]
    # The mean of the losses the student's own loop computed (when loss_fn was called once per
    # batch), so a mistake in the loop itself does not also cost this check.
    if len(losses) == expected["n_batches"]:
        target = sum(losses) / len(losses)
    else:
        target = _number(expected["mean_loss"], "the reference")
    if _close(value, target):
        return
    diagnosis = _diagnose_mean(value, losses, yours["batch_sizes"])
    message = (f"{call} returned {value:.6g}; the mean of the {len(losses) or expected['n_batches']} batch losses "
               f"is {target:.6g} (rtol={RTOL:g})")
    raise CheckFailed(f"{message}: {diagnosis}" if diagnosis else message)


def _check_losses_list(info: dict, epochs: int, call: str) -> list:
    if info["items"] is None:
        raise CheckFailed(f"{call} returned a {info['type']}; expected a list with one mean loss per epoch")
    if len(info["items"]) != epochs:
        raise CheckFailed(f"{call} returned {len(info['items'])} losses for {epochs} epochs; expected one per epoch")
    return [_number(item, f"{call} (item {i})") for i, item in enumerate(info["items"])]


def _evaluate_accuracy(yours: dict, expected: dict, call: str) -> None:
    value = _number(yours["accuracy"], call)
    target = _number(expected["accuracy"], "the reference")
    if _close(value, target, rtol=1e-6, atol=1e-9):
        return
    message = f"{call} returned {value:.6g}; expected {target:.6g}"
    correct, sizes = yours["batch_correct"], yours["batch_sizes"]
    per_batch = [c / s for c, s in zip(correct, sizes)]
    if value > 1.0 and _close(value / 100.0, target):
        message += ": return a fraction in [0, 1], not a percentage"
    elif per_batch and _close(value, sum(per_batch) / len(per_batch)):
        message += (": yours is the mean of the per-batch accuracies, but the batches differ in size "
                    "(the last one is smaller); count correct predictions and samples over all batches")
    elif _close(value, sum(correct)):
        message += ": yours is the number of correct predictions; divide by the number of samples"
    elif not all(not f["inner_training"] for f in yours["forwards"]):
        message += ": the model was in training mode during the forward passes (dropout on); call model.eval() first"
    raise CheckFailed(message)


def _mlp_accuracy(params: list, X: np.ndarray, y: np.ndarray, call: str) -> float:
    """Training accuracy of a Linear-ReLU-Linear network with ``params`` = [W1, b1, W2, b2] (torch layout)."""
    shapes = [tuple(np.shape(p)) for p in params]
    if len(params) != 4 or len(shapes[0]) != 2 or len(shapes[2]) != 2:
        raise CheckFailed(f"{call}: the model has parameters of shapes {shapes}; expected those of "
                          "Linear(2→64), ReLU, Linear(64→3)")
    W1, b1, W2, b2 = (np.asarray(p, dtype=np.float64) for p in params)
    scores = np.maximum(X.astype(np.float64) @ W1.T + b1, 0.0) @ W2.T + b2
    return float(np.mean(scores.argmax(axis=1) == y))


def _spiral_checks(result, n_per_class: int, n_classes: int, call: str):
    """The (X, y) a make_spiral call returned, as numpy arrays of the right shapes."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed(f"{call} returned {type(result).__name__}; expected a pair (X, y)")
    X, y = (as_numpy(value) for value in result)
    kinds = [getattr(v, "type_name", type(v).__name__) for v in (X, y)]  # a Remote names the student's type
    expect(isinstance(X, np.ndarray) and isinstance(y, np.ndarray),
           f"{call} must return a pair (X, y) of numpy arrays; yours returned a {kinds[0]} and a {kinds[1]}")
    expect(X.shape == (n_per_class * n_classes, 2),
           f"{call}: X has shape {X.shape}; expected ({n_per_class * n_classes}, 2)")
    expect(y.shape == (n_per_class * n_classes,), f"{call}: y has shape {y.shape}; expected ({n_per_class * n_classes},)")
    return X, y


def _wrapped(angle):
    return (angle + np.pi) % (2 * np.pi) - np.pi


def _spiral_parts(n_per_class: int, n_classes: int):
    r = np.linspace(0.0, 1.0, n_per_class)
    t = np.concatenate([np.linspace(4.0 * j, 4.0 * (j + 1), n_per_class) for j in range(n_classes)])
    return np.tile(r, n_classes), t


def _metrics_inputs():
    """The public metric cases by name: (y_true, y_pred, num_classes)."""
    return {
        "all_predicted": (np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 1, 2, 3, 3, 0, 2]),
                          np.array([0, 1, 2, 3, 1, 1, 2, 0, 0, 2, 1, 2, 3, 1, 0, 3]), 4),
        "never_predicted": (np.array([0, 0, 1, 1, 2, 2, 2, 0, 1, 2]),
                            np.array([0, 1, 1, 1, 0, 0, 1, 0, 1, 0]), 3),
    }


def _compare_metrics(yours, expected, call: str) -> None:
    kind = getattr(yours, "type_name", type(yours).__name__)
    expect(isinstance(yours, dict), f"{call} returned a {kind}; expected a dict")
    for key in ("accuracy", "precision", "recall", "f1", "confusion"):
        expect(key in yours, f"{call}: the result has no key {key!r} (it has {sorted(map(str, yours))})")
    for key in ("accuracy", "precision", "recall", "f1"):
        value = as_numpy(yours[key])
        try:
            number = float(np.asarray(value).reshape(()))
        except (TypeError, ValueError):
            what = "" if key == "accuracy" else " (the macro average over the classes)"
            kind = getattr(value, "type_name", type(value).__name__)
            raise CheckFailed(f"{call}[{key!r}] is a {kind}; expected one number{what}") from None
        if math.isnan(number):
            raise CheckFailed(
                f"{call}[{key!r}] is nan: a class that is never predicted has precision 0, a class that never "
                "occurs has recall 0, and F1 is 0 when precision + recall is 0 — guard those divisions")
    confusion = as_numpy(yours["confusion"])
    expect_equal(confusion, expected["confusion"], name=f"{call}['confusion'] (rows = true class, columns = predicted)")
    for key in ("accuracy", "precision", "recall", "f1"):
        try:
            expect_close(as_numpy(yours[key]), expected[key], name=f"{call}[{key!r}]", rtol=1e-6, atol=1e-9)
        except CheckFailed as failure:
            p, r, f = (float(np.asarray(as_numpy(yours[k])).reshape(())) for k in ("precision", "recall", "f1"))
            if key == "f1" and p + r > 0 and _close(f, 2 * p * r / (p + r), 1e-6, 1e-9):
                classes = len(expected["confusion"])
                raise CheckFailed(f"{failure}: yours is 2PR/(P + R) of the macro averages P = {p:.6g} and "
                                  f"R = {r:.6g}; f1 is the mean of the per-class F1 scores (each class's "
                                  f"2·P_c·R_c/(P_c + R_c), averaged over the {classes} classes)") from None
            raise


def _metrics_call(y_true, y_pred, k) -> str:
    if len(y_true) <= 20:
        return f"classification_metrics({y_true.tolist()}, {y_pred.tolist()}, {k})"
    return f"classification_metrics(y_true, y_pred, {k}) (200 random labels)"


# ---------------------------------------------------------------------------------------
# build_mlp and NeuralNetRegressor


@check(points=2, visibility="public")
def build_mlp_layers(ctx):
    """build_mlp(4, [16, 8], 3): Linear/ReLU pairs then a final Linear, no softmax."""
    args = (4, [16, 8], 3)
    _compare_mlp(ctx.harness.mlp_structure(*args), ctx.reference_harness.mlp_structure(*args),
                 "build_mlp(4, [16, 8], 3)")


@check(points=1, visibility="hidden")
def build_mlp_other_sizes(ctx):
    """build_mlp with no hidden layer, three hidden layers (a tuple) and a single one."""
    for args in [(3, [], 2), (6, (32, 16, 8), 5), (10, [7], 10)]:
        call = f"build_mlp{args}"
        _compare_mlp(ctx.harness.mlp_structure(*args), ctx.reference_harness.mlp_structure(*args), call)


def _compare_regressor(ctx, input_size: int, hidden_size: int, n: int) -> None:
    call = f"NeuralNetRegressor({input_size}, {hidden_size})"
    seed = int(ctx.rng.integers(2**31))
    yours = ctx.harness.regressor_info(input_size, hidden_size, n, seed)
    expected = ctx.reference_harness.regressor_info(input_size, hidden_size, n, seed)
    expect(yours["is_module"], f"{call} is not a torch.nn.Module: subclass nn.Module and call super().__init__()")
    for name, want in expected["attributes"].items():
        have = yours["attributes"][name]
        expect(have["type"] is not None, f"{call} has no attribute {name!r}; expected a {want['type']}")
        expect(have["type"] == want["type"], f"{call}.{name} is a {have['type']}; expected a {want['type']}")
        if want["type"] == "Linear":
            expect((have["in_features"], have["out_features"]) == (want["in_features"], want["out_features"]),
                   f"{call}.{name} is Linear({have['in_features']}→{have['out_features']}); "
                   f"expected Linear({want['in_features']}→{want['out_features']})")
    expect(yours["output"] is not None, f"{call}: forward did not return a tensor")
    # Layers with or without biases are both right (the 2025 lecture uses bias=False): the output
    # is compared with linear2(relu(linear1(x))) computed from the student's own layers.
    x = np.asarray(yours["x"], dtype=np.float64)
    (w1, b1), (w2, b2) = [(np.asarray(w, dtype=np.float64), 0.0 if b is None else np.asarray(b, dtype=np.float64))
                          for w, b in yours["layers"]]
    wanted = np.maximum(x @ w1.T + b1, 0.0) @ w2.T + b2
    biases = " and ".join(name for name, (_, b) in zip(("linear1", "linear2"), yours["layers"]) if b is not None)
    own = f"your layers' own weights{' and biases' if biases else ' (no biases)'}"
    try:
        expect_close(yours["output"], wanted, name=f"{call} forward output on a batch of {n}", rtol=1e-5, atol=1e-5)
        expect_close(yours["output_single"], wanted[:1], name=f"{call} forward output on a batch of 1",
                     rtol=1e-5, atol=1e-5)
    except CheckFailed as failure:
        raise CheckFailed(f"{failure} (forward must return linear2(relu(linear1(x))), of shape (batch, 1); "
                          f"expected computed with {own})") from None


@check(points=2, visibility="public")
def regressor_layers_and_forward(ctx):
    """NeuralNetRegressor(3, 8): linear1, relu, linear2 (hidden → 1); forward = linear2(relu(linear1(x)))."""
    _compare_regressor(ctx, 3, 8, 6)


@check(points=1, visibility="hidden")
def regressor_other_sizes(ctx):
    """NeuralNetRegressor with one input feature and a wide hidden layer."""
    _compare_regressor(ctx, 1, 20, 5)
    _compare_regressor(ctx, 7, 2, 9)


# ---------------------------------------------------------------------------------------
# train_one_epoch and train


def _one_epoch_both(ctx, n, batch_size, task, optimizer, lr, momentum=0.0):
    args = (int(ctx.rng.integers(2**31)), n, batch_size, task, optimizer, lr, momentum)
    return _loop("train_one_epoch", ctx.harness.one_epoch, *args), ctx.reference_harness.one_epoch(*args)


@check(points=4, visibility="public")
def one_epoch_parameters(ctx):
    """Parameters after one train_one_epoch (SGD, 6 batches in a fixed order) equal the reference's."""
    yours, expected = _one_epoch_both(ctx, 48, 8, "classification", "sgd", 0.5)
    _compare_epoch_params(yours, expected, "train_one_epoch")


@check(points=2, visibility="public")
def one_epoch_mean_loss(ctx):
    """train_one_epoch returns the mean of the batch losses as a float."""
    yours, expected = _one_epoch_both(ctx, 48, 8, "classification", "sgd", 0.5)
    _check_mean_loss(yours, expected, "train_one_epoch")


@check(points=2, visibility="hidden")
def one_epoch_parameters_momentum_and_regression(ctx):
    """Parameters after one epoch with SGD momentum, a smaller last batch, and an MSE regression."""
    for args in [(50, 8, "classification", "sgd", 0.3, 0.9), (40, 16, "regression", "sgd", 0.05, 0.5)]:
        yours, expected = _one_epoch_both(ctx, *args)
        _compare_epoch_params(yours, expected, "train_one_epoch")


@check(points=1, visibility="hidden")
def one_epoch_mean_loss_uneven_batches(ctx):
    """The mean loss is the plain mean of the batch losses, also when the last batch is smaller."""
    yours, expected = _one_epoch_both(ctx, 50, 8, "classification", "sgd", 0.3)
    _check_mean_loss(yours, expected, "train_one_epoch")


@check(points=2, visibility="hidden")
def train_several_epochs(ctx):
    """train(..., epochs=3): the parameters and the list of three epoch mean losses equal the reference's."""
    args = (int(ctx.rng.integers(2**31)), 32, 8, 3, "classification", "sgd", 0.3, 0.0)
    yours = _loop("train", ctx.harness.several_epochs, *args)
    expected = ctx.reference_harness.several_epochs(*args)
    _compare_epoch_params(yours, expected, "train(..., epochs=3)")
    losses = _check_losses_list(yours["losses"], 3, "train(..., epochs=3)")
    wanted = _check_losses_list(expected["losses"], 3, "the reference")
    try:
        expect_close(losses, wanted, name="train(..., epochs=3) epoch losses", rtol=RTOL, atol=ATOL)
    except CheckFailed as failure:
        raise CheckFailed(f"{failure}: each entry is that epoch's mean batch loss, as train_one_epoch "
                          "returns it") from None


@check(points=4, visibility="public")
def spiral_mlp_accuracy(ctx):
    """A two-layer MLP trained with your train (Adam, 60 epochs) reaches ≥ 0.95 accuracy on the spiral."""
    X, y = ctx.reference.make_spiral(100, 3, 0.2, seed=0)
    seed = int(ctx.rng.integers(2**31))
    result = _loop("train", ctx.harness.spiral_training, X, y, seed, *SPIRAL, False)
    accuracy = _mlp_accuracy(result["params"], X, y, "train")
    if accuracy < SPIRAL_TARGET:
        raise CheckFailed(
            f"training accuracy {accuracy:.3f} after {SPIRAL_EPOCHS} epochs of your train on the spiral "
            f"(300 points, 3 classes); expected at least {SPIRAL_TARGET} (a correct train gets there with room "
            "to spare with this model, data and optimizer; a linear model stays near 0.5). Check that train "
            "calls train_one_epoch once per epoch and that each batch does zero_grad, forward, loss, backward, step")


@check(points=1, visibility="hidden")
def spiral_pipeline_with_your_functions(ctx):
    """Your make_spiral, build_mlp and train together reach ≥ 0.95 training accuracy."""
    X, y = _spiral_checks(ctx.student.make_spiral(100, 3, 0.2, 1), 100, 3, "make_spiral(100, 3, 0.2, 1)")
    seed = int(ctx.rng.integers(2**31))
    X, y = X.astype(np.float32), y.astype(np.int64)
    result = _loop("train", ctx.harness.spiral_training, X, y, seed, *SPIRAL, True)
    accuracy = _mlp_accuracy(result["params"], X, y, "build_mlp(2, [64], 3)")
    expect(accuracy >= SPIRAL_TARGET,
           f"training accuracy {accuracy:.3f} with your make_spiral, build_mlp(2, [64], 3) and train; "
           f"expected at least {SPIRAL_TARGET}")


# ---------------------------------------------------------------------------------------
# evaluate


def _evaluate_both(ctx, start_mode: str, dropout: float = 0.0):
    args = (int(ctx.rng.integers(2**31)), start_mode, 50, 16, dropout)
    return ctx.harness.evaluate_behaviour(*args), ctx.reference_harness.evaluate_behaviour(*args)


@check(points=2, visibility="public")
def evaluate_accuracy(ctx):
    """evaluate returns the accuracy of argmax predictions over all batches (the last one is smaller)."""
    yours, expected = _evaluate_both(ctx, "train")
    _evaluate_accuracy(yours, expected, "evaluate(model, loader)")


@check(points=2, visibility="public")
def evaluate_builds_no_graph_and_keeps_gradients(ctx):
    """evaluate builds no autograd graph and leaves .grad and requires_grad alone."""
    yours, _ = _evaluate_both(ctx, "train")
    forwards = yours["forwards"]
    expect(len(forwards) > 0, "evaluate never called the model")
    expect(all(not f["grad_enabled"] for f in forwards),
           f"evaluate ran the model with autograd on in {sum(f['grad_enabled'] for f in forwards)} of "
           f"{len(forwards)} forward passes, which builds a graph for nothing: wrap the loop in "
           "`with torch.no_grad():`")
    expect(yours["grads_untouched"],
           "evaluate changed the parameters' .grad (did it call zero_grad() or backward()?); evaluating a model "
           "must leave its gradients as they were")
    expect(yours["requires_grad_untouched"],
           "evaluate changed requires_grad of the parameters; use `with torch.no_grad():` instead")
    expect(yours["weights_untouched"], "evaluate changed the model's parameters")


@check(points=2, visibility="public")
def evaluate_restores_mode(ctx):
    """evaluate leaves the model in the mode it found it: train stays train, eval stays eval."""
    for start in ("train", "eval"):
        yours, _ = _evaluate_both(ctx, start)
        expect(len(yours["forwards"]) > 0, "evaluate never called the model")
        after = "train" if yours["training_after"] else "eval"
        expect(after == start,
               f"the model was in {start} mode before evaluate and in {after} mode after it: remember "
               "model.training at the start and restore it with model.train(was_training) at the end")
        expect(all(flag == (start == "train") for flag in yours["modules_training_after"]),
               f"after evaluate the model is in {start} mode but some of its layers are not: set the mode "
               "with model.train(...) / model.eval(), which also switch every submodule")


@check(points=1, visibility="hidden")
def evaluate_uses_eval_mode(ctx):
    """evaluate switches the model to eval mode (dropout off) while it predicts."""
    yours, expected = _evaluate_both(ctx, "train", dropout=0.5)
    forwards = yours["forwards"]
    expect(len(forwards) > 0, "evaluate never called the model")
    expect(all(not f["inner_training"] for f in forwards),
           "evaluate ran the model in training mode (dropout active, so predictions are random): call "
           "model.eval() before predicting, then restore the previous mode")
    _evaluate_accuracy(yours, expected, "evaluate(model, loader) on a model with dropout")


# ---------------------------------------------------------------------------------------
# make_spiral


@check(points=1, visibility="public")
def spiral_shapes_and_dtypes(ctx):
    """make_spiral returns X float32 (N·K, 2) and y int64 (N·K,), rows grouped by class."""
    for args in [(100, 3, 0.2, 0), (7, 4, 0.1, 3)]:
        n, k = args[0], args[1]
        call = f"make_spiral{args}"
        X, y = _spiral_checks(ctx.student.make_spiral(*args), n, k, call)
        expect(X.dtype == np.float32, f"{call}: X has dtype {X.dtype}; expected float32 (torch's default)")
        expect(y.dtype == np.int64, f"{call}: y has dtype {y.dtype}; expected int64 (what CrossEntropyLoss takes)")
        expect_equal(y, np.repeat(np.arange(k), n), name=f"{call} labels y (class 0 first, then 1, ...)")
    X, y = _spiral_checks(ctx.student.make_spiral(), 100, 3, "make_spiral()")


@check(points=2, visibility="public")
def spiral_geometry(ctx):
    """Without noise, class j's points are (r sin t, r cos t), r = linspace(0, 1, n), t = linspace(4j, 4j + 4, n)."""
    n, k = 50, 3
    call = f"make_spiral({n}, {k}, noise=0.0)"
    X, y = _spiral_checks(ctx.student.make_spiral(n, k, 0.0, 0), n, k, call)
    X = X.astype(np.float64)
    r, t = _spiral_parts(n, k)
    expect_close(np.hypot(X[:, 0], X[:, 1]), r, name=f"{call} radii (distance of each point to the origin)",
                 rtol=1e-5, atol=1e-5)
    inside = r > 0.1  # the angle of a point near the origin is not well defined in float32
    angle = np.arctan2(X[:, 0], X[:, 1])  # x = r sin t, y = r cos t
    error = np.abs(_wrapped(angle - t))[inside]
    if error.max() > 1e-3:
        swapped = np.abs(_wrapped(np.arctan2(X[:, 1], X[:, 0]) - t))[inside]
        if swapped.max() <= 1e-3:
            raise CheckFailed(f"{call}: the columns are (r cos t, r sin t); the lecture's spiral is "
                              "X = (r·sin t, r·cos t): sin in the first column, cos in the second")
        worst = int(np.flatnonzero(inside)[np.argmax(error)])
        raise CheckFailed(f"{call}: point {worst} (class {worst // n}) is at angle {angle[worst]:.4f} rad "
                          f"(atan2(x0, x1)); expected t = {_wrapped(t[worst]):.4f} (mod 2π): check "
                          "t = linspace(4j, 4(j+1), n) and X = (r·sin t, r·cos t)")


@check(points=2, visibility="hidden")
def spiral_values_with_seed(ctx):
    """make_spiral with a seed gives the reference's points (noise from numpy.random.default_rng(seed))."""
    for args in [(100, 3, 0.2, 0), (40, 4, 0.3, 7)]:
        call = f"make_spiral{args}"
        X, y = _spiral_checks(ctx.student.make_spiral(*args), args[0], args[1], call)
        expected, _ = ctx.reference.make_spiral(*args)
        legacy, _ = ctx.reference.make_spiral_legacy(*args)
        if np.allclose(X, legacy, rtol=1e-5, atol=1e-6):
            continue  # the lecture's np.random.seed + randn convention is accepted too
        if any(np.allclose(X[:, ::-1], option, rtol=1e-5, atol=1e-6) for option in (expected, legacy)):
            raise CheckFailed(f"{call}: your columns are (r·cos t, r·sin t); expected (r·sin t, r·cos t)")
        expect_close(X, expected, name=f"{call} X", rtol=1e-5, atol=1e-6)


@check(points=1, visibility="hidden")
def spiral_noise_and_seed(ctx):
    """The seed makes make_spiral reproducible, and the angle noise has standard deviation `noise`."""
    args = (200, 3, 0.3, 5)
    X1, _ = _spiral_checks(ctx.student.make_spiral(*args), 200, 3, f"make_spiral{args}")
    X2, _ = _spiral_checks(ctx.student.make_spiral(*args), 200, 3, f"make_spiral{args}")
    expect(np.array_equal(X1, X2), f"two calls of make_spiral{args} with the same seed gave different points: "
                                   "draw the noise from a generator seeded with `seed`")
    X3, _ = _spiral_checks(ctx.student.make_spiral(200, 3, 0.3, 6), 200, 3, "make_spiral(200, 3, 0.3, 6)")
    expect(not np.array_equal(X1, X3), "make_spiral gave the same points for seeds 5 and 6: use the seed argument")
    X = X1.astype(np.float64)
    r, t = _spiral_parts(200, 3)
    inside = r > 0.2
    # Either column order (the geometry check is about the order; this one about the noise).
    spread = min(float(np.std(_wrapped(np.arctan2(X[:, a], X[:, b]) - t)[inside])) for a, b in [(0, 1), (1, 0)])
    expect(0.24 <= spread <= 0.36,
           f"make_spiral{args}: the angles differ from linspace(4j, 4(j+1), n) by a standard deviation of "
           f"{spread:.3f}; expected about noise = 0.3 (t = linspace(...) + noise · N(0, 1))")


# ---------------------------------------------------------------------------------------
# classification_metrics


@check(points=2, visibility="public")
def metrics_every_class_predicted(ctx):
    """classification_metrics: accuracy, macro precision/recall/F1, confusion (rows = true class)."""
    y_true, y_pred, k = _metrics_inputs()["all_predicted"]
    _compare_metrics(ctx.student.classification_metrics(y_true, y_pred, k),
                     ctx.reference.classification_metrics(y_true, y_pred, k), _metrics_call(y_true, y_pred, k))


@check(points=2, visibility="public")
def metrics_class_never_predicted(ctx):
    """A class that is never predicted has precision 0 (not NaN) and counts in the macro average."""
    y_true, y_pred, k = _metrics_inputs()["never_predicted"]
    _compare_metrics(ctx.student.classification_metrics(y_true, y_pred, k),
                     ctx.reference.classification_metrics(y_true, y_pred, k), _metrics_call(y_true, y_pred, k))


@check(points=2, visibility="hidden")
def metrics_more_cases(ctx):
    """Metrics for a class absent from y_true, perfect predictions, and a random 6-class case."""
    rng = ctx.rng
    cases = [
        (np.array([0, 1, 1, 0, 1, 0]), np.array([0, 1, 3, 0, 1, 1]), 4),    # class 2 nowhere, 3 only predicted
        (np.array([2, 0, 1, 2, 1]), np.array([2, 0, 1, 2, 1]), 3),          # perfect
        (np.array([1, 1, 1, 1]), np.array([1, 0, 1, 1]), 2),                # one true class
    ]
    y_true = rng.integers(0, 6, size=200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 6, size=200))
    cases.append((y_true, y_pred, 6))
    for y_true, y_pred, k in cases:
        _compare_metrics(ctx.student.classification_metrics(y_true, y_pred, k),
                         ctx.reference.classification_metrics(y_true, y_pred, k), _metrics_call(y_true, y_pred, k))
