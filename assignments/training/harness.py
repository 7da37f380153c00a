"""Harness of the ``training`` assignment: code that runs next to the student's module.

Each public function here is called as ``fn(student, *args)``: inside the sandbox with the
student's module, and in the trusted process with the reference module (so a check compares
the two results). The functions build the models, loaders, loss functions and optimizers a
training loop needs, call the student's function on them, and return only plain values
(numbers, strings, lists, dicts and numpy arrays). They hold no answers: everything they
compute about the student's code is a measurement (parameters, counts, what happened in
which order), and the checks compare it with the same measurement of the reference.

Everything is seeded with local generators, so the global torch RNG is left alone, and
nothing here starts a thread or a worker process.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.dataloader import default_collate

# ---------------------------------------------------------------------------------------
# Building blocks: seeded data, models and loaders.


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _quietly(build):
    """``build()`` without consuming the global torch RNG (nn.Linear's default init draws from it)."""
    with torch.random.fork_rng(devices=[]):
        return build()


def _init_(model: nn.Module, seed: int) -> nn.Module:
    """Overwrite every parameter with seeded values (uniform ±1/sqrt(fan_in), like nn.Linear)."""
    generator = _generator(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            fan_in = parameter.shape[1] if parameter.dim() > 1 else parameter.shape[0]
            bound = 1.0 / math.sqrt(max(fan_in, 1))
            parameter.copy_(torch.empty(parameter.shape).uniform_(-bound, bound, generator=generator))
    return model


def _task(task: str, seed: int, n: int):
    """A small model, data set and loss for ``task`` ("classification" or "regression")."""
    generator = _generator(seed + 1)
    if task == "classification":
        model = _quietly(lambda: nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 4)))
        inputs = torch.randn(n, 5, generator=generator)
        targets = torch.randint(0, 4, (n,), generator=generator)
        loss_fn = _RecordingCrossEntropy()
    elif task == "regression":
        model = _quietly(lambda: nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1)))
        inputs = torch.randn(n, 3, generator=generator)
        targets = inputs[:, :1] * 2.0 - inputs[:, 1:2] + 0.1 * torch.randn(n, 1, generator=generator)
        loss_fn = _RecordingMSE()
    else:
        raise ValueError(f"unknown task {task!r}")
    return _init_(model, seed), inputs, targets, loss_fn


def _optimizer(name: str, parameters, lr: float, momentum: float = 0.0):
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}")


def _need(student, name: str):
    """The student's ``name``, or an error that says it is missing."""
    value = getattr(student, name, None)
    if value is None:
        # A NameError carrying the name: the grader then says where the student's file defines it,
        # if the cell that does never ran.
        raise NameError(f"{name} is not defined in your submission", name=name)
    return value


def _params(model: nn.Module) -> dict:
    return {name: p.detach().cpu().numpy().copy() for name, p in model.named_parameters()}


def _number(value) -> dict:
    """What the student returned where a number is expected, as plain values."""
    info = {"type": type(value).__name__, "value": None, "requires_grad": False, "shape": None}
    if isinstance(value, torch.Tensor):
        info["requires_grad"] = bool(value.requires_grad)
        info["shape"] = list(value.shape)
        if value.numel() == 1 and not value.is_complex():
            info["value"] = float(value.detach().reshape(()).item())
    elif isinstance(value, (bool, np.bool_)):
        pass
    elif isinstance(value, (int, float, np.integer, np.floating)):
        info["value"] = float(value)
    elif isinstance(value, np.ndarray):
        info["shape"] = list(value.shape)
        if value.size == 1 and value.dtype.kind in "iuf":
            info["value"] = float(value.reshape(()))
    return info


def _numbers(values) -> dict:
    """What the student returned where a list of numbers is expected."""
    if isinstance(values, (list, tuple)):
        return {"type": type(values).__name__, "items": [_number(v) for v in values]}
    return {"type": type(values).__name__, "items": None}


# ---------------------------------------------------------------------------------------
# Instrumentation: what happened, in which order, inside the student's loop.


class _Recorder:
    """An event log shared by the loss function, the loader and the optimizer.

    Events: ``D`` a batch was drawn from the loader, ``L`` the loss function was called,
    ``B`` backward reached a loss it returned, ``S`` optimizer.step() was called.
    """

    def __init__(self):
        self.events: list[str] = []
        self.batch_losses: list[float] = []
        self.batch_sizes: list[int] = []
        self.loss_grads: list[float] = []      # d(what backward started from) / d(loss), 1.0 if plain
        self.step_grads: list[str] = []        # per step: none | fresh | accumulated | other
        self._parameters: list[torch.Tensor] = []
        self._since_step: list[torch.Tensor] = []   # gradients computed since the last step
        self._since_start: list[torch.Tensor] = []  # gradients computed since the epoch began

    def watch_parameters(self, model: nn.Module) -> None:
        """Track, per parameter, the gradients computed since the last step and since the start."""
        self._parameters = [p for p in model.parameters() if p.requires_grad]
        self._since_step = [torch.zeros_like(p) for p in self._parameters]
        self._since_start = [torch.zeros_like(p) for p in self._parameters]
        for index, parameter in enumerate(self._parameters):
            parameter.register_hook(self._parameter_hook(index))

    def _parameter_hook(self, index: int):
        def hook(grad):
            self._since_step[index] += grad.detach()
            self._since_start[index] += grad.detach()
        return hook

    def on_step(self) -> None:
        self.events.append("S")
        grads = [p.grad for p in self._parameters]
        if all(g is None or not bool(torch.any(g != 0)) for g in grads):
            state = "none"
        elif all(g is not None and torch.allclose(g, s, rtol=1e-5, atol=1e-7) for g, s in zip(grads, self._since_step)):
            state = "fresh"
        elif all(g is not None and torch.allclose(g, s, rtol=1e-5, atol=1e-7) for g, s in zip(grads, self._since_start)):
            state = "accumulated"
        else:
            state = "other"
        self.step_grads.append(state)
        for buffer in self._since_step:
            buffer.zero_()

    def on_loss(self, loss: torch.Tensor, batch_size: int) -> torch.Tensor:
        self.events.append("L")
        self.batch_losses.append(float(loss.detach().reshape(-1)[0]) if loss.numel() else float("nan"))
        self.batch_sizes.append(int(batch_size))
        if loss.requires_grad:
            loss.register_hook(self._loss_hook)
        return loss

    def _loss_hook(self, grad):
        self.events.append("B")
        self.loss_grads.append(float(grad.detach().reshape(-1)[0]) if grad.numel() else float("nan"))

    def collate(self, batch):
        self.events.append("D")
        return default_collate(batch)

    def instrument(self, optimizer) -> None:
        step = optimizer.step

        def recorded_step(*args, **kwargs):
            self.on_step()
            return step(*args, **kwargs)

        optimizer.step = recorded_step

    def summary(self) -> dict:
        return {
            "events": "".join(self.events),
            "batch_losses": list(self.batch_losses),
            "batch_sizes": list(self.batch_sizes),
            "loss_grads": list(self.loss_grads),
            "step_grads": list(self.step_grads),
        }


class _RecordingCrossEntropy(nn.CrossEntropyLoss):
    """``nn.CrossEntropyLoss`` (mean reduction) that reports each call to a recorder."""

    recorder: _Recorder | None = None

    def forward(self, input, target):
        loss = super().forward(input, target)
        return self.recorder.on_loss(loss, len(target)) if self.recorder else loss


class _RecordingMSE(nn.MSELoss):
    """``nn.MSELoss`` (mean reduction) that reports each call to a recorder."""

    recorder: _Recorder | None = None

    def forward(self, input, target):
        loss = super().forward(input, target)
        return self.recorder.on_loss(loss, len(target)) if self.recorder else loss


def _recorded_setup(task, seed, n, batch_size, optimizer, lr, momentum):
    model, inputs, targets, loss_fn = _task(task, seed, n)
    recorder = _Recorder()
    loss_fn.recorder = recorder
    recorder.watch_parameters(model)
    # A loader draws a base seed per iteration from its generator (the global one if none).
    loader = DataLoader(TensorDataset(inputs, targets), batch_size=batch_size, shuffle=False,
                        collate_fn=recorder.collate, generator=_generator(seed + 2))
    opt = _optimizer(optimizer, model.parameters(), lr, momentum)
    recorder.instrument(opt)
    return model, loader, loss_fn, opt, recorder


# ---------------------------------------------------------------------------------------
# Harness functions (called by the checks).


def mlp_structure(student, input_size, hidden_sizes, num_classes) -> dict:
    """The layers of ``student.build_mlp(...)`` and the shape of its output on a batch of 5."""
    model = _quietly(lambda: _need(student, "build_mlp")(input_size, hidden_sizes, num_classes))
    info = {"class": type(model).__name__, "is_module": isinstance(model, nn.Module),
            "is_sequential": isinstance(model, nn.Sequential), "layers": [], "output_shape": None}
    if not isinstance(model, nn.Module):
        return info
    children = list(model.children()) if isinstance(model, nn.Sequential) else [model]
    for layer in children:
        entry = {"type": type(layer).__name__, "in_features": None, "out_features": None, "bias": None}
        if isinstance(layer, nn.Linear):
            entry.update(in_features=int(layer.in_features), out_features=int(layer.out_features),
                         bias=layer.bias is not None)
        info["layers"].append(entry)
    with torch.no_grad():
        output = model(torch.zeros(5, input_size))
    info["output_shape"] = list(output.shape) if isinstance(output, torch.Tensor) else None
    return info


def regressor_info(student, input_size, hidden_size, n, seed) -> dict:
    """Attributes of ``student.NeuralNetRegressor(...)``, and its output on seeded inputs with seeded
    weights, together with those inputs and weights (biases None where the layers have none), so
    that a check can compute what linear2(relu(linear1(x))) must give with the student's own layers."""
    model = _quietly(lambda: _need(student, "NeuralNetRegressor")(input_size, hidden_size))
    info = {"is_module": isinstance(model, nn.Module), "attributes": {}, "parameters": [],
            "output": None, "output_single": None, "x": None, "layers": None}
    for name in ("linear1", "relu", "linear2"):
        layer = getattr(model, name, None)
        entry = {"type": type(layer).__name__ if layer is not None else None, "in_features": None,
                 "out_features": None}
        if isinstance(layer, nn.Linear):
            entry.update(in_features=int(layer.in_features), out_features=int(layer.out_features))
        info["attributes"][name] = entry
    if not isinstance(model, nn.Module):
        return info
    info["parameters"] = [[name, list(p.shape)] for name, p in model.named_parameters()]
    shapes_ok = (isinstance(getattr(model, "linear1", None), nn.Linear)
                 and isinstance(getattr(model, "linear2", None), nn.Linear)
                 and model.linear1.weight.shape == (hidden_size, input_size)
                 and model.linear2.weight.shape == (1, hidden_size))
    if not shapes_ok:
        return info
    generator = _generator(seed)
    with torch.no_grad():
        for layer in (model.linear1, model.linear2):
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator))
            if layer.bias is not None:
                layer.bias.copy_(torch.randn(layer.bias.shape, generator=generator))
        x = torch.randn(n, input_size, generator=generator)
        output = model(x)
        single = model(x[:1])
    info["output"] = output.detach().numpy() if isinstance(output, torch.Tensor) else None
    info["output_single"] = single.detach().numpy() if isinstance(single, torch.Tensor) else None
    info["x"] = x.numpy()
    info["layers"] = [[layer.weight.detach().numpy(), None if layer.bias is None else layer.bias.detach().numpy()]
                      for layer in (model.linear1, model.linear2)]
    return info


def one_epoch(student, seed, n, batch_size, task="classification", optimizer="sgd", lr=0.1,
              momentum=0.0) -> dict:
    """Call ``student.train_one_epoch`` once on a seeded model, loader (fixed order) and optimizer.

    Returns the parameters before and after, what the student returned, and a log of what
    the loop did (see ``_Recorder``).
    """
    model, loader, loss_fn, opt, recorder = _recorded_setup(task, seed, n, batch_size, optimizer, lr, momentum)
    before = _params(model)
    returned = _need(student, "train_one_epoch")(model, loader, loss_fn, opt)
    return {"params_before": before, "params": _params(model), "mean_loss": _number(returned),
            "n_batches": len(loader), **recorder.summary()}


def several_epochs(student, seed, n, batch_size, epochs, task="classification", optimizer="sgd",
                   lr=0.1, momentum=0.0) -> dict:
    """Call ``student.train`` for ``epochs`` epochs on a seeded model, loader and optimizer."""
    model, loader, loss_fn, opt, recorder = _recorded_setup(task, seed, n, batch_size, optimizer, lr, momentum)
    returned = _need(student, "train")(model, loader, loss_fn, opt, epochs)
    return {"params": _params(model), "losses": _numbers(returned), "n_batches": len(loader),
            **recorder.summary()}


def spiral_training(student, X, y, seed, hidden, epochs, batch_size, lr, use_student_mlp=False) -> dict:
    """Train a two-layer MLP with Adam through ``student.train`` on (X, y); its parameters after training."""
    inputs = torch.as_tensor(np.asarray(X, dtype=np.float32))
    targets = torch.as_tensor(np.asarray(y, dtype=np.int64))
    n_classes = int(targets.max()) + 1
    if use_student_mlp:
        model = _quietly(lambda: _need(student, "build_mlp")(inputs.shape[1], [hidden], n_classes))
    else:
        model = _quietly(lambda: nn.Sequential(nn.Linear(inputs.shape[1], hidden), nn.ReLU(),
                                               nn.Linear(hidden, n_classes)))
    _init_(model, seed)
    loader = DataLoader(TensorDataset(inputs, targets), batch_size=batch_size, shuffle=True,
                        generator=_generator(seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    returned = _need(student, "train")(model, loader, nn.CrossEntropyLoss(), optimizer, epochs)
    # The checks compute the accuracy from the parameters themselves, in the trusted process.
    return {"params": [p.detach().cpu().numpy().copy() for p in model.parameters()], "losses": _numbers(returned)}


class _Watched(nn.Module):
    """A classifier that records, at each forward, whether autograd and training mode were on."""

    def __init__(self, dropout: float):
        super().__init__()
        layers = [nn.Linear(4, 16), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(16, 3))
        self.net = nn.Sequential(*layers)
        self.log: list[dict] = []

    def forward(self, x):
        self.log.append({"grad_enabled": torch.is_grad_enabled(), "training": self.training,
                         "inner_training": self.net.training})
        return self.net(x)


def evaluate_behaviour(student, seed, start_mode, n, batch_size, dropout=0.0) -> dict:
    """Call ``student.evaluate`` on a watched model in ``start_mode`` ("train" or "eval").

    Before the call some parameters hold a gradient and some none; the result says whether
    that, the ``requires_grad`` flags and the modes are as before, and how each forward ran.
    """
    model = _init_(_quietly(lambda: _Watched(dropout)), seed)
    generator = _generator(seed + 1)
    inputs = torch.randn(n, 4, generator=generator)
    targets = torch.randint(0, 3, (n,), generator=generator)
    # Make the labels partly predictable so the accuracy is informative.
    model.eval()
    with torch.no_grad():
        predicted = model.net(inputs).argmax(dim=1)
    keep = torch.rand(n, generator=generator) < 0.6
    targets = torch.where(keep, predicted, targets)
    loader = DataLoader(TensorDataset(inputs, targets), batch_size=batch_size, shuffle=False,
                        generator=_generator(seed + 2))

    model.train(start_mode == "train")
    parameters = list(model.parameters())
    for index, parameter in enumerate(parameters):
        parameter.grad = torch.full_like(parameter, 0.25) if index % 2 == 0 else None
    grads_before = [None if p.grad is None else p.grad.clone() for p in parameters]
    flags_before = [p.requires_grad for p in parameters]
    weights_before = [p.detach().clone() for p in parameters]

    returned = _need(student, "evaluate")(model, loader)
    training_after = bool(model.training)
    modules_training_after = [bool(m.training) for m in model.modules()]

    grads_ok = all((b is None and p.grad is None) or (b is not None and p.grad is not None and torch.equal(b, p.grad))
                   for b, p in zip(grads_before, parameters))
    # Reference accuracies per batch, for diagnosing a mean of per-batch accuracies.
    batch_correct = []
    batch_sizes = []
    was = model.training
    model.eval()
    with torch.no_grad():
        for x, t in loader:
            batch_correct.append(int((model.net(x).argmax(dim=1) == t).sum()))
            batch_sizes.append(int(len(t)))
    model.train(was)
    return {
        "accuracy": _number(returned),
        "forwards": model.log,
        "training_after": training_after,
        "modules_training_after": modules_training_after,
        "grads_untouched": bool(grads_ok),
        "requires_grad_untouched": [p.requires_grad for p in parameters] == flags_before,
        "weights_untouched": all(torch.equal(w, p.detach()) for w, p in zip(weights_before, parameters)),
        "batch_correct": batch_correct,
        "batch_sizes": batch_sizes,
    }
