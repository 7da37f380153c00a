"""The ``training`` reference checked against hand-written loops, torch and hand computations.

Also a few sanity checks of the assignment's harness run with the reference: the event log
of a correct loop is what the checks' diagnostics assume it is.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ref = _load(ROOT / "reference" / "training.py", "reference_training_under_test")
harness = _load(ROOT / "assignments" / "training" / "harness.py", "training_harness_under_test")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small models train much faster on one thread, above all on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _classification_data(n=40, d=5, k=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, k, (n,), generator=g)


# --- build_mlp and NeuralNetRegressor ---------------------------------------------------


def test_build_mlp_layers():
    model = ref.build_mlp(4, [16, 8], 3)
    assert isinstance(model, nn.Sequential)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert [(m.in_features, m.out_features) for m in model if isinstance(m, nn.Linear)] == [(4, 16), (16, 8), (8, 3)]
    assert model(torch.zeros(7, 4)).shape == (7, 3)


def test_build_mlp_without_hidden_layers_is_one_linear():
    model = ref.build_mlp(3, [], 2)
    assert len(model) == 1 and isinstance(model[0], nn.Linear)
    assert (model[0].in_features, model[0].out_features) == (3, 2)


def test_regressor_forward_is_linear2_relu_linear1():
    torch.manual_seed(0)
    model = ref.NeuralNetRegressor(3, 8)
    assert isinstance(model.linear1, nn.Linear) and isinstance(model.relu, nn.ReLU)
    assert (model.linear2.in_features, model.linear2.out_features) == (8, 1)
    x = torch.randn(6, 3)
    hidden = torch.clamp(x @ model.linear1.weight.T + model.linear1.bias, min=0)
    expected = hidden @ model.linear2.weight.T + model.linear2.bias
    torch.testing.assert_close(model(x), expected)
    assert model(x).shape == (6, 1)


class _RegressorWithoutBias(nn.Module):
    """The 2025 lecture's regressor: the same layers with bias=False."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.linear1 = nn.Linear(input_size, hidden_size, bias=False)
        self.relu = nn.ReLU()
        self.linear2 = nn.Linear(hidden_size, 1, bias=False)

    def forward(self, x):
        return self.linear2(self.relu(self.linear1(x)))


@pytest.mark.parametrize("regressor", [ref.NeuralNetRegressor, _RegressorWithoutBias], ids=["bias", "no_bias"])
def test_harness_regressor_info_holds_what_its_output_is_computed_from(regressor):
    """The check recomputes linear2(relu(linear1(x))) from the layers the harness reports: with
    biases or without, that is the model's own output."""
    info = harness.regressor_info(type("student", (), {"NeuralNetRegressor": regressor}), 3, 8, 6, 11)
    (w1, b1), (w2, b2) = info["layers"]
    assert (b1 is None) == (b2 is None) == (regressor is _RegressorWithoutBias)
    hidden = np.maximum(info["x"].astype(np.float64) @ w1.T + (0 if b1 is None else b1), 0)
    np.testing.assert_allclose(info["output"], hidden @ w2.T + (0 if b2 is None else b2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(info["output_single"], info["output"][:1], rtol=1e-6, atol=1e-7)


# --- train_one_epoch and train --------------------------------------------------------


def _setup(seed=0, momentum=0.0, n=42, batch_size=8):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 4))
    X, y = _classification_data(n=n, seed=seed)
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=False)
    return model, loader, X, y


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_train_one_epoch_equals_a_hand_written_loop(momentum):
    model, loader, _, _ = _setup(momentum=momentum)
    twin = copy.deepcopy(model)
    loss_fn = nn.CrossEntropyLoss()
    mean = ref.train_one_epoch(model, loader, loss_fn, torch.optim.SGD(model.parameters(), lr=0.3, momentum=momentum))

    optimizer = torch.optim.SGD(twin.parameters(), lr=0.3, momentum=momentum)
    losses = []
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = loss_fn(twin(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert isinstance(mean, float)
    assert mean == pytest.approx(sum(losses) / len(losses), rel=1e-12)
    for (name, a), (_, b) in zip(model.named_parameters(), twin.named_parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_train_one_epoch_sgd_is_plain_gradient_descent_per_batch():
    """Without an optimizer object: w ← w − lr · ∂(mean batch loss)/∂w, batch after batch."""
    model, loader, _, _ = _setup(seed=3, n=24, batch_size=8)
    weights = [p.detach().clone() for p in model.parameters()]
    ref.train_one_epoch(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1))

    def forward(ws, x):
        w1, b1, w2, b2 = ws
        return torch.relu(x @ w1.T + b1) @ w2.T + b2

    for inputs, targets in loader:
        ws = [w.clone().requires_grad_(True) for w in weights]
        loss = -torch.log_softmax(forward(ws, inputs), dim=1)[torch.arange(len(targets)), targets].mean()
        grads = torch.autograd.grad(loss, ws)
        weights = [w.detach() - 0.1 * g for w, g in zip(ws, grads)]
    for got, want in zip(model.parameters(), weights):
        torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)


def test_train_returns_one_loss_per_epoch_and_equals_repeated_epochs():
    model, loader, _, _ = _setup(seed=1)
    twin = copy.deepcopy(model)
    loss_fn = nn.CrossEntropyLoss()
    losses = ref.train(model, loader, loss_fn, torch.optim.SGD(model.parameters(), lr=0.2), 3)
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.2)
    expected = [ref.train_one_epoch(twin, loader, loss_fn, optimizer) for _ in range(3)]
    assert losses == expected
    assert losses[-1] < losses[0]


# --- evaluate -------------------------------------------------------------------------


class _Spy(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 4))
        self.seen = []

    def forward(self, x):
        self.seen.append((torch.is_grad_enabled(), self.net[2].training))
        return self.net(x)


@pytest.mark.parametrize("start_training", [True, False])
def test_evaluate_counts_over_all_samples_and_leaves_the_model_alone(start_training):
    torch.manual_seed(0)
    model = _Spy()
    X, y = _classification_data(n=50)
    loader = DataLoader(TensorDataset(X, y), batch_size=16)  # batches of 16, 16, 16, 2
    model.train(start_training)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    accuracy = ref.evaluate(model, loader)

    model.eval()
    with torch.no_grad():
        expected = (model.net(X).argmax(dim=1) == y).sum().item() / len(y)
    assert accuracy == pytest.approx(expected, abs=1e-12)
    assert isinstance(accuracy, float) and 0.0 <= accuracy <= 1.0
    assert model.seen and all(not grad and not dropout_on for grad, dropout_on in model.seen)
    assert all(torch.equal(p.grad, torch.ones_like(p)) for p in model.parameters())


@pytest.mark.parametrize("start_training", [True, False])
def test_evaluate_restores_the_mode_of_every_module(start_training):
    model = _Spy()
    model.train(start_training)
    X, y = _classification_data(n=10)
    ref.evaluate(model, DataLoader(TensorDataset(X, y), batch_size=4))
    assert all(m.training == start_training for m in model.modules())


# --- make_spiral ----------------------------------------------------------------------


def _lecture_spiral(N=100, K=3, noise=0.2, seed=0):
    """The lecture's (CS231n) code, verbatim apart from dtypes and the seed."""
    np.random.seed(seed)
    D = 2
    X = np.zeros((N * K, D))
    y = np.zeros(N * K, dtype="uint8")
    for j in range(K):
        ix = range(N * j, N * (j + 1))
        r = np.linspace(0.0, 1, N)
        t = np.linspace(j * 4, (j + 1) * 4, N) + np.random.randn(N) * noise
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    return X, y


def test_make_spiral_shapes_dtypes_and_labels():
    X, y = ref.make_spiral()
    assert X.shape == (300, 2) and X.dtype == np.float32
    assert y.shape == (300,) and y.dtype == np.int64
    np.testing.assert_array_equal(y, np.repeat([0, 1, 2], 100))
    X, y = ref.make_spiral(7, 4, 0.1, 3)
    assert X.shape == (28, 2) and y.shape == (28,)


def test_make_spiral_without_noise_is_r_sin_t_r_cos_t():
    n = 50
    X, _ = ref.make_spiral(n, 3, 0.0, 0)
    for j in range(3):
        r = np.linspace(0, 1, n)
        t = np.linspace(4 * j, 4 * (j + 1), n)
        np.testing.assert_allclose(X[j * n:(j + 1) * n], np.c_[r * np.sin(t), r * np.cos(t)], rtol=1e-6, atol=1e-7)


def test_make_spiral_noise_comes_from_default_rng_per_class():
    n, k, noise, seed = 30, 4, 0.3, 11
    X, _ = ref.make_spiral(n, k, noise, seed)
    rng = np.random.default_rng(seed)
    for j in range(k):
        r = np.linspace(0, 1, n)
        t = np.linspace(4 * j, 4 * (j + 1), n) + noise * rng.standard_normal(n)
        np.testing.assert_allclose(X[j * n:(j + 1) * n], np.c_[r * np.sin(t), r * np.cos(t)], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(X, ref.make_spiral(n, k, noise, seed)[0])
    assert not np.array_equal(X, ref.make_spiral(n, k, noise, seed + 1)[0])


def test_make_spiral_legacy_is_the_lecture_code():
    X, y = ref.make_spiral_legacy(100, 3, 0.2, 5)
    X_lecture, y_lecture = _lecture_spiral(seed=5)
    np.testing.assert_allclose(X, X_lecture, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(y, y_lecture)


# --- classification_metrics -----------------------------------------------------------


def _metrics_by_definition(y_true, y_pred, k):
    """scikit-learn's definitions (labels=range(k), average='macro', zero_division=0), written out."""
    confusion = [[sum(1 for t, p in zip(y_true, y_pred) if t == i and p == j) for j in range(k)] for i in range(k)]
    precision, recall, f1 = [], [], []
    for c in range(k):
        tp = confusion[c][c]
        predicted = sum(confusion[i][c] for i in range(k))
        actual = sum(confusion[c])
        p = tp / predicted if predicted else 0.0
        r = tp / actual if actual else 0.0
        precision.append(p)
        recall.append(r)
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
    return {"accuracy": sum(t == p for t, p in zip(y_true, y_pred)) / len(y_true),
            "precision": sum(precision) / k, "recall": sum(recall) / k, "f1": sum(f1) / k,
            "confusion": np.array(confusion)}


def test_metrics_by_hand_with_a_class_never_predicted():
    # true:  0 0 1 1 2 2      pred: 0 1 1 1 0 1     (class 2 is never predicted)
    result = ref.classification_metrics(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 0, 1]), 3)
    np.testing.assert_array_equal(result["confusion"], [[1, 1, 0], [0, 2, 0], [1, 1, 0]])
    # precision: class 0 1/2, class 1 2/4, class 2 0 (no predictions) -> 1/3
    # recall:    class 0 1/2, class 1 2/2, class 2 0/2                -> 1/2
    # f1:        class 0 1/2, class 1 2/3, class 2 0                  -> 7/18
    assert result["accuracy"] == pytest.approx(3 / 6)
    assert result["precision"] == pytest.approx(1 / 3)
    assert result["recall"] == pytest.approx(1 / 2)
    assert result["f1"] == pytest.approx(7 / 18)


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_the_definitions(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 7))
    y_true = rng.integers(0, k, size=60)
    y_pred = np.where(rng.random(60) < 0.6, y_true, rng.integers(0, k - 1, size=60))  # class k-1 rarely predicted
    got = ref.classification_metrics(y_true, y_pred, k)
    want = _metrics_by_definition(y_true.tolist(), y_pred.tolist(), k)
    np.testing.assert_array_equal(got["confusion"], want["confusion"])
    for key in ("accuracy", "precision", "recall", "f1"):
        assert got[key] == pytest.approx(want[key], rel=1e-12), key


def test_metrics_class_absent_from_y_true_has_recall_zero():
    result = ref.classification_metrics(np.array([0, 1, 1, 0]), np.array([0, 1, 2, 0]), 3)
    assert result["recall"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert result["precision"] == pytest.approx((1 + 1 + 0) / 3)
    assert all(np.isfinite(result[key]) for key in ("precision", "recall", "f1"))


# --- the spiral: an MLP learns it, a linear model cannot ------------------------------


def _spiral_accuracy(model, epochs, seed=0):
    X, y = ref.make_spiral()
    inputs, targets = torch.from_numpy(X), torch.from_numpy(y)
    loader = DataLoader(TensorDataset(inputs, targets), batch_size=32, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    losses = ref.train(model, loader, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=0.02), epochs)
    assert len(losses) == epochs and losses[-1] < losses[0]
    return ref.evaluate(model, DataLoader(TensorDataset(inputs, targets), batch_size=100))


def test_two_layer_mlp_learns_the_spiral_and_a_linear_model_does_not():
    torch.manual_seed(0)
    assert _spiral_accuracy(ref.build_mlp(2, [64], 3), 60) >= 0.97
    torch.manual_seed(0)
    assert _spiral_accuracy(ref.build_mlp(2, [], 3), 60) <= 0.6


# --- the harness, run with the reference ----------------------------------------------


def test_harness_log_of_a_correct_epoch():
    result = harness.one_epoch(ref, 7, 50, 8, "classification", "sgd", 0.3, 0.9)
    assert result["n_batches"] == 7
    assert result["events"] == "DLBS" * 7
    assert result["step_grads"] == ["fresh"] * 7
    assert result["loss_grads"] == [1.0] * 7
    assert result["batch_sizes"] == [8] * 6 + [2]
    assert result["mean_loss"]["value"] == pytest.approx(np.mean(result["batch_losses"]))


def test_harness_is_deterministic_and_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    a = harness.one_epoch(ref, 3, 40, 16, "regression", "sgd", 0.05, 0.5)
    b = harness.one_epoch(ref, 3, 40, 16, "regression", "sgd", 0.05, 0.5)
    assert torch.equal(state, torch.get_rng_state())
    for name in a["params"]:
        np.testing.assert_array_equal(a["params"][name], b["params"][name])
        assert not np.array_equal(a["params"][name], a["params_before"][name])


@pytest.mark.parametrize("start", ["train", "eval"])
def test_harness_evaluate_behaviour_of_the_reference(start):
    result = harness.evaluate_behaviour(ref, 5, start, 50, 16, 0.5)
    assert result["training_after"] == (start == "train")
    assert all(flag == (start == "train") for flag in result["modules_training_after"])
    assert result["grads_untouched"] and result["requires_grad_untouched"] and result["weights_untouched"]
    assert all(not f["grad_enabled"] and not f["inner_training"] for f in result["forwards"])
    assert result["accuracy"]["value"] == pytest.approx(sum(result["batch_correct"]) / 50)


def test_harness_spiral_training_of_the_reference_is_accurate_and_fast():
    """The public spiral check's run: params of a 2-64-3 MLP whose accuracy the check computes itself."""
    import time

    X, y = ref.make_spiral(100, 3, 0.2, seed=0)
    start = time.perf_counter()
    result = harness.spiral_training(ref, X, y, 12345, 64, 60, 32, 0.02, True)
    elapsed = time.perf_counter() - start
    W1, b1, W2, b2 = (np.asarray(p, dtype=np.float64) for p in result["params"])
    accuracy = np.mean((np.maximum(X @ W1.T + b1, 0) @ W2.T + b2).argmax(axis=1) == y)
    assert accuracy >= 0.97
    assert len(result["losses"]["items"]) == 60
    assert elapsed < 5.0  # about 0.2 s single-threaded on an idle core
