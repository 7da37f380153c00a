"""Harness of the ``lenet`` assignment: code that runs in the sandbox next to the student's module.

The checks call these functions as ``fn(student, *args)``. They build the student's model,
train it with the student's ``train_model`` within a budget, and run it on images the checks
send in. Everything they return is a measurement (parameter counts, output shapes, seconds,
logits); no label of the hidden test split ever reaches this code, so there is none here to
find: the checks compute every accuracy in the trusted process.

Models stay in this module between calls, by name: ``build`` keeps a freshly built one under
``"fresh"``, ``train`` keeps each trained one under the run id it returns, and ``probe`` and
``predict`` use them. A sandbox that restarts starts empty; the checks build or train again.

Reproducibility: ``build`` and ``train`` seed torch, numpy and ``random`` from their seed
argument, switch torch to deterministic algorithms on one thread, and training an identical
file on identical data gives identical weights, so the same file earns the same score.

The training budget counts the CPU time of training (one thread, so on an idle machine it is
the wall time, and a busy machine does not cut a student's training short); a second, wall-clock
limit stops a training that stops using the CPU (sleeping, waiting). At either limit a signal
handler raises ``_BudgetExhausted`` inside ``train_model``; the model is then evaluated as it
stood. The alarm repeats until ``train_model`` has unwound, so catching it does not help.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import threading
import time
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

#: Models built or trained in this sandbox, by name ("fresh" or a run id), for later calls.
_MODELS: dict[str, nn.Module] = {}
#: The report of each finished training run, by run id: asking again trains no second time.
_REPORTS: dict[str, dict] = {}
FRESH = "fresh"
#: Seconds between the repeated alarms once the budget is used up.
ALARM_REPEAT_SECONDS = 0.05
#: Images a trained model is tried on to see that training left it usable.
USABILITY_PROBE = 8


class _BudgetExhausted(BaseException):
    """The training budget is used up. A BaseException, so ``except Exception`` does not stop it."""


class DeviceUnavailable(RuntimeError):
    """The assignment asks for a device this machine does not have (a course setting, not the student)."""


# ---------------------------------------------------------------------------------------
# Set-up: seeds, device, the student's model.


@contextmanager
def _reproducible(seed: int | None):
    """Deterministic torch on one thread, seeded when ``seed`` is given; the previous mode afterwards."""
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    if seed is not None:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_deterministic)


def _device(name: str) -> torch.device:
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceUnavailable(
                f"the assignment trains on {name!r} ([training] device in assignment.toml), but "
                "torch.cuda.is_available() is False in the sandbox: this machine (or its sandbox) has no usable "
                "GPU. Grade on a machine with one, or set device = \"cpu\"")
        # cuBLAS is deterministic only with a fixed workspace, set before its first use.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    elif name != "cpu":
        raise DeviceUnavailable(f"unknown [training] device {name!r} in assignment.toml; use \"cpu\" or \"cuda\"")
    return torch.device(name)


def _build(student) -> nn.Module:
    build_model = getattr(student, "build_model", None)
    if build_model is None:
        raise AttributeError("build_model is not defined in your submission")
    model = build_model()
    if not isinstance(model, nn.Module):
        raise TypeError(f"build_model() returned a {type(model).__name__}; expected a torch.nn.Module")
    return model


def _parameter_counts(model: nn.Module) -> dict:
    """The number of parameters (shared ones once) and the three largest tensors."""
    unique = {id(p): (name, p) for name, p in reversed(list(model.named_parameters(remove_duplicate=False)))}
    sizes = sorted(((name, int(p.numel())) for name, p in unique.values()), key=lambda item: -item[1])
    return {"parameters": sum(size for _, size in sizes), "largest": [list(item) for item in sizes[:3]]}


def _tensor_info(value) -> dict:
    """What a forward pass returned, as plain values."""
    if not isinstance(value, torch.Tensor):
        return {"type": type(value).__name__, "shape": None, "dtype": None, "finite": None}
    return {"type": "Tensor", "shape": list(value.shape), "dtype": str(value.dtype).removeprefix("torch."),
            "finite": bool(torch.isfinite(value).all()) if value.is_floating_point() else True}


def _as_logits(value) -> np.ndarray:
    """A forward pass's result as a float32 numpy array (the trusted side checks its shape)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"your model's forward returned a {type(value).__name__}; expected a tensor of logits "
                        "of shape (N, 10)")
    return value.detach().to("cpu", torch.float32).numpy()


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: t.detach().clone() for name, t in [*model.named_parameters(), *model.named_buffers()]}


def _changed(before: dict[str, torch.Tensor], now: dict[str, torch.Tensor]) -> list[str]:
    """Names of the tensors of ``before`` that are gone from ``now`` or differ there."""
    return [name for name, tensor in before.items()
            if name not in now or now[name].shape != tensor.shape or not torch.equal(now[name].detach(), tensor)]


# ---------------------------------------------------------------------------------------
# A fresh model: its parameters and its behaviour in eval mode.


def build(student, seed) -> dict:
    """Build the student's model with everything seeded; its parameter count and largest tensors."""
    with _reproducible(int(seed)):
        model = _build(student)
    _MODELS[FRESH] = model
    return {"class": type(model).__name__, **_parameter_counts(model)}


def probe(student, images) -> dict:
    """Run the freshly built model in eval mode under ``torch.no_grad()`` on ``images``.

    The same batch goes through twice (identical calls must give identical logits), then in
    two halves (an image's logits must not depend on the rest of its batch), then a batch of
    one; the parameters and buffers must be the same afterwards.
    """
    model = _MODELS[FRESH]
    x = torch.from_numpy(np.array(images, dtype=np.float32))
    half = len(x) // 2
    before = _state(model)
    with _reproducible(None), torch.no_grad():
        model.eval()
        first = model(x)
        again = model(x)
        halves = [model(x[:half]), model(x[half:])]
        single = model(x[:1])
    after = _state(model)
    report = {"output": _tensor_info(first), "single": _tensor_info(single), "logits": None,
              "repeat_difference": None, "split_difference": None,
              "changed": _changed(before, after)}
    if report["output"]["shape"] == [len(x), 10] and all(isinstance(h, torch.Tensor) for h in [again, *halves]):
        logits = first.detach().double()
        report["logits"] = first.detach().to(torch.float32).numpy()
        if list(again.shape) == list(first.shape):
            report["repeat_difference"] = float((again.double() - logits).abs().nan_to_num(float("inf")).max())
        split = torch.cat([h.detach().double() for h in halves]) if all(h.dim() == 2 for h in halves) else None
        if split is not None and split.shape == logits.shape:
            scale = logits.abs().clamp(min=1.0)
            report["split_difference"] = float(((split - logits).abs() / scale).nan_to_num(float("inf")).max())
    return report


# ---------------------------------------------------------------------------------------
# Training within a budget.


class _Budget:
    """Raises ``_BudgetExhausted`` in the main thread after ``cpu_seconds`` of CPU time or ``wall_seconds``.

    On exit the signal handlers and interval timers are as they were (a timer that was running,
    such as a test runner's own alarm, runs on for what it had left).
    """

    def __init__(self, cpu_seconds: float, wall_seconds: float):
        self.cpu_seconds = float(cpu_seconds)
        self.wall_seconds = float(wall_seconds)
        #: "cpu" or "wall" once a limit was reached, else None.
        self.stopped_by: str | None = None
        self._armed = False
        self._previous: dict = {}
        self._previous_timers: dict = {}

    def _on_alarm(self, signum, frame):
        if self._armed:
            self.stopped_by = self.stopped_by or ("cpu" if signum == signal.SIGPROF else "wall")
            raise _BudgetExhausted()

    def __enter__(self) -> "_Budget":
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("the training budget needs the main thread (it is enforced by signals)")
        for signum in (signal.SIGPROF, signal.SIGALRM):
            self._previous[signum] = signal.signal(signum, self._on_alarm)
        for timer, seconds, clock in ((signal.ITIMER_PROF, self.cpu_seconds, time.process_time),
                                      (signal.ITIMER_REAL, self.wall_seconds, time.monotonic)):
            self._previous_timers[timer] = (signal.setitimer(timer, seconds, ALARM_REPEAT_SECONDS), clock, clock())
        # Armed only now, so no alarm can escape from here (one that came early repeats 50 ms later).
        self._armed = True
        return self

    def __exit__(self, *exc) -> None:
        # An alarm may land while disarming: it is then simply disarmed again. Once _armed is
        # False the handler no longer raises, and the previous handlers come back.
        while True:
            try:
                self._armed = False
                for timer in self._previous_timers:
                    signal.setitimer(timer, 0)
                for signum, handler in self._previous.items():
                    signal.signal(signum, handler)
                for timer, ((remaining, interval), clock, started) in self._previous_timers.items():
                    if remaining > 0:
                        signal.setitimer(timer, max(remaining - (clock() - started), 0.001), interval)
                return
            except _BudgetExhausted:
                continue


def _losses_info(value) -> dict:
    """What ``train_model`` returned where a list of epoch losses is expected, as plain values."""
    info = {"type": type(value).__name__, "items": None}
    if isinstance(value, (list, tuple)):
        info["items"] = [_loss_item(item) for item in value[:10_000]]
        info["length"] = len(value)
    return info


def _loss_item(value) -> dict:
    item = {"type": type(value).__name__, "value": None, "requires_grad": False}
    if isinstance(value, torch.Tensor):
        item["requires_grad"] = bool(value.requires_grad)
        if value.numel() == 1 and value.is_floating_point():
            item["value"] = float(value.detach().reshape(()).item())
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        item["value"] = float(value)
    return item


def _usability(model: nn.Module, images: torch.Tensor) -> str | None:
    """Why the trained model cannot predict (N, 10) logits for float32 images any more, or None."""
    try:
        model.eval()
        with torch.no_grad():
            output = model(images)
    except Exception as exc:  # noqa: BLE001 - whatever the student's model raises is the finding
        return f"its forward raised {type(exc).__name__}: {str(exc)[:300]}"
    info = _tensor_info(output)
    if info["shape"] != [len(images), 10]:
        return f"its forward returned {info['type']} of shape {info['shape']} for {len(images)} images"
    return None


def _run_id(images: np.ndarray, labels: np.ndarray, *settings) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(labels).tobytes())
    digest.update(repr(settings).encode())
    return digest.hexdigest()[:16]


def _train_within(budget: _Budget, student, model: nn.Module, X: torch.Tensor, y: torch.Tensor):
    """Run ``student.train_model`` until it returns or the budget stops it.

    Returns what it returned (None if stopped), whether it returned, and the wall and CPU
    seconds it took. Its own exceptions propagate, unless they come from the stop.
    """
    returned, finished = None, False
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    try:
        with budget:
            returned = student.train_model(model, X, y)
            finished = True
    except _BudgetExhausted:
        pass
    except Exception:
        if budget.stopped_by is None:
            raise
        # Student code turned the stop into an exception of its own: still a stop at the budget.
    finally:
        torch.set_grad_enabled(True)  # a training stopped inside a no_grad block may have left it off
    return returned, finished, time.perf_counter() - wall_start, time.process_time() - cpu_start


def train(student, images, labels, seed, budget_seconds, wall_seconds, device="cpu") -> dict:
    """Build the student's model (seeded) and train it with ``student.train_model`` within the budget.

    ``images`` (N, 1, 8, 8) float32 and ``labels`` (N,) int64 reach ``train_model`` as tensors
    on ``device``. Returns a report: parameter count, whether the budget stopped training (and
    which limit), seconds of wall and CPU time, what ``train_model`` returned, whether it
    changed the parameters, which inputs it modified, threads it left running, and whether the
    model can still predict. The model is kept under the report's ``run`` id for ``predict``;
    the same call again returns the same report without training again.
    """
    # The student module's identity is in the id too: run in one process with several modules
    # (tests of the harness), each trains its own model.
    run = _run_id(images, labels, id(student), int(seed), float(budget_seconds), float(wall_seconds), str(device))
    if run in _REPORTS and run in _MODELS:
        return _REPORTS[run]
    where = _device(str(device))
    with _reproducible(int(seed)):
        model = _build(student).to(where)
        counts = _parameter_counts(model)
        inputs = {"X_train": torch.from_numpy(np.array(images, dtype=np.float32)).to(where),
                  "y_train": torch.from_numpy(np.array(labels, dtype=np.int64)).to(where)}
        pristine = {name: tensor.clone() for name, tensor in inputs.items()}
        initial = {name: p.detach().clone() for name, p in model.named_parameters()}
        threads_before = set(threading.enumerate())
        budget = _Budget(budget_seconds, wall_seconds)
        returned, finished, wall, cpu = _train_within(budget, student, model, inputs["X_train"], inputs["y_train"])
        threads_left = sorted(t.name for t in threading.enumerate() if t not in threads_before and t.is_alive())
        unusable = _usability(model, pristine["X_train"][:USABILITY_PROBE])
    report = {
        "run": run,
        **counts,
        "budget_seconds": float(budget_seconds),
        "stopped_by": budget.stopped_by,
        "returned": finished,
        "train_seconds": wall,
        "train_cpu_seconds": cpu,
        "losses": _losses_info(returned) if finished else None,
        "parameters_changed": bool(_changed(initial, dict(model.named_parameters()))),
        "inputs_changed": _changed(pristine, inputs),
        "threads_left": threads_left,
        "unusable": unusable,
    }
    _MODELS[run] = model
    _REPORTS[run] = report
    return report


def predict(student, run, images) -> np.ndarray:
    """The logits of the model trained in ``run`` for ``images``, in eval mode under ``torch.no_grad()``."""
    model = _MODELS[run]
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    x = torch.from_numpy(np.array(images, dtype=np.float32)).to(device)
    with _reproducible(None), torch.no_grad():
        model.eval()
        return _as_logits(model(x))
