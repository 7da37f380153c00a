"""The hidden reference of the ``conv`` assignment, checked against PyTorch and the lecture."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]


def _load_reference():
    spec = importlib.util.spec_from_file_location("reference_conv", ROOT / "reference" / "conv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ref = _load_reference()


def _torch_conv_shape(input_shape, out_channels, kernel_size, stride, padding, dilation):
    layer = torch.nn.Conv2d(input_shape[1], out_channels, kernel_size, stride=stride,
                            padding=padding, dilation=dilation, bias=False)
    with torch.no_grad():
        return tuple(layer(torch.zeros(input_shape)).shape)


def _torch_pool_shape(input_shape, kernel_size, stride, padding):
    with torch.no_grad():
        return tuple(torch.nn.MaxPool2d(kernel_size, stride=stride, padding=padding)(torch.zeros(input_shape)).shape)


def _random_arg(rng, low, high, pair_probability=0.4):
    if rng.random() < pair_probability:
        return (int(rng.integers(low, high + 1)), int(rng.integers(low, high + 1)))
    return int(rng.integers(low, high + 1))


# ---------------------------------------------------------------- output sizes

def test_conv_output_size_textbook_values():
    assert ref.conv_output_size(32, 5) == 28
    assert ref.conv_output_size(28, 5) == 24
    assert ref.conv_output_size(7, 3, stride=2, padding=1) == 4
    assert ref.conv_output_size(5, 3, padding=1) == 5
    assert ref.conv_output_size(7, 3, dilation=2) == 3
    assert ref.conv_output_size(7, 3, stride=2, padding=1, dilation=2) == 3
    assert isinstance(ref.conv_output_size(10, 3), int)


@pytest.mark.parametrize("kwargs", [
    dict(n=5, kernel_size=0), dict(n=5, kernel_size=3, stride=0), dict(n=5, kernel_size=3, dilation=0),
    dict(n=5, kernel_size=3, padding=-1), dict(n=3, kernel_size=5), dict(n=3, kernel_size=2, dilation=3),
    dict(n=5, kernel_size=-2), dict(n=5, kernel_size=3, stride=-1),
])
def test_conv_output_size_invalid(kwargs):
    with pytest.raises(ValueError):
        ref.conv_output_size(**kwargs)


def test_conv2d_output_shape_matches_torch_on_random_configs():
    rng = np.random.default_rng(0)
    valid = invalid = 0
    for _ in range(400):
        input_shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)),
                       int(rng.integers(1, 20)), int(rng.integers(1, 20)))
        out_channels = int(rng.integers(1, 5))
        kernel_size = _random_arg(rng, 1, 6)
        stride = _random_arg(rng, 1, 4)
        padding = _random_arg(rng, 0, 3)
        dilation = _random_arg(rng, 1, 3)
        try:
            expected = _torch_conv_shape(input_shape, out_channels, kernel_size, stride, padding, dilation)
        except RuntimeError:
            with pytest.raises(ValueError):
                ref.conv2d_output_shape(input_shape, out_channels, kernel_size, stride, padding, dilation)
            invalid += 1
            continue
        assert ref.conv2d_output_shape(input_shape, out_channels, kernel_size, stride=stride,
                                       padding=padding, dilation=dilation) == expected
        valid += 1
    assert valid > 150 and invalid > 30  # both kinds well represented


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=0), dict(kernel_size=3, stride=0), dict(kernel_size=3, dilation=0),
    dict(kernel_size=3, padding=-1), dict(kernel_size=8), dict(kernel_size=(3, 0)), dict(kernel_size=3, stride=(1, 0)),
    dict(kernel_size=4, dilation=(1, 3)), dict(kernel_size=3, padding=(0, -2)),
])
def test_conv2d_output_shape_invalid_where_torch_fails(kwargs):
    input_shape = (1, 2, 7, 7)
    with pytest.raises(RuntimeError):
        _torch_conv_shape(input_shape, 3, **{"stride": 1, "padding": 0, "dilation": 1, **kwargs})
    with pytest.raises(ValueError):
        ref.conv2d_output_shape(input_shape, 3, **kwargs)


def test_pool2d_output_shape_matches_torch_on_random_configs():
    rng = np.random.default_rng(1)
    valid = invalid = 0
    for _ in range(400):
        input_shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)),
                       int(rng.integers(1, 20)), int(rng.integers(1, 20)))
        kernel_size = _random_arg(rng, 1, 5)
        stride = None if rng.random() < 0.3 else _random_arg(rng, 1, 4)
        padding = _random_arg(rng, 0, 3)
        try:
            expected = _torch_pool_shape(input_shape, kernel_size, stride, padding)
        except RuntimeError:
            with pytest.raises(ValueError):
                ref.pool2d_output_shape(input_shape, kernel_size, stride, padding)
            invalid += 1
            continue
        if stride is None:
            assert ref.pool2d_output_shape(input_shape, kernel_size, padding=padding) == expected
        assert ref.pool2d_output_shape(input_shape, kernel_size, stride=stride, padding=padding) == expected
        valid += 1
    assert valid > 150 and invalid > 30


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3, padding=2), dict(kernel_size=(2, 4), padding=(1, 3)), dict(kernel_size=2, padding=-1),
    dict(kernel_size=3, stride=0), dict(kernel_size=9), dict(kernel_size=0),
])
def test_pool2d_output_shape_invalid_where_torch_fails(kwargs):
    input_shape = (1, 2, 7, 7)
    with pytest.raises(RuntimeError):
        _torch_pool_shape(input_shape, kwargs["kernel_size"], kwargs.get("stride"), kwargs.get("padding", 0))
    with pytest.raises(ValueError):
        ref.pool2d_output_shape(input_shape, **kwargs)


def test_pool2d_stride_defaults_to_kernel_size():
    assert ref.pool2d_output_shape((1, 3, 32, 32), 2) == (1, 3, 16, 16)
    assert ref.pool2d_output_shape((2, 6, 7, 9), 3) == (2, 6, 2, 3)
    assert ref.pool2d_output_shape((2, 6, 7, 9), 3, padding=1) == _torch_pool_shape((2, 6, 7, 9), 3, None, 1)


# ---------------------------------------------------------------- parameters

@pytest.mark.parametrize("in_channels,out_channels,kernel_size,bias", [
    (1, 6, 5, True), (6, 16, 5, True), (3, 64, 3, False), (3, 16, (3, 5), True), (7, 2, (1, 4), False),
    (1, 100, 800, False),
])
def test_conv2d_param_count_matches_torch(in_channels, out_channels, kernel_size, bias):
    if kernel_size == 800:  # too big to build quickly; the formula is exercised by the other cases
        assert ref.conv2d_param_count(in_channels, out_channels, kernel_size, bias) == 64_000_000
        return
    layer = torch.nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias)
    assert ref.conv2d_param_count(in_channels, out_channels, kernel_size, bias=bias) == \
        sum(p.numel() for p in layer.parameters())


def test_fully_connected_800x800_to_100_has_64_million_weights():
    # The lecture's argument for convolutions: a dense layer on an 800x800 image is enormous.
    assert ref.FC_800x800_TO_100_WEIGHTS == 800 * 800 * 100 == 64_000_000
    layer = torch.nn.Linear(800 * 800, 100, bias=False, device="meta")
    assert layer.weight.numel() == 64_000_000
    # ... which is a convolution whose kernel covers the whole image.
    assert ref.conv2d_param_count(1, 100, 800, bias=False) == 64_000_000
    assert ref.conv2d_param_count(1, 100, (800, 800), bias=False) == 64_000_000
    assert ref.conv2d_output_shape((1, 1, 800, 800), 100, 800) == (1, 100, 1, 1)


# ---------------------------------------------------------------- conv2d and max_pool2d against torch

def test_conv2d_matches_torch_on_random_inputs():
    rng = np.random.default_rng(2)
    for trial in range(60):
        n = 1 if trial % 5 == 0 else int(rng.integers(1, 4))
        c_in, c_out = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        height, width = int(rng.integers(3, 12)), int(rng.integers(3, 12))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        stride = _random_arg(rng, 1, 3)
        padding = _random_arg(rng, 0, 2)
        x = rng.standard_normal((n, c_in, height, width))
        w = rng.standard_normal((c_out, c_in, kh, kw))
        b = None if trial % 3 == 0 else rng.standard_normal(c_out)
        expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), None if b is None else torch.from_numpy(b),
                            stride=stride, padding=padding).numpy()
        x_before, w_before = x.copy(), w.copy()
        got = ref.conv2d(x, w, b, stride=stride, padding=padding)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
        np.testing.assert_array_equal(x, x_before)
        np.testing.assert_array_equal(w, w_before)


def test_conv2d_is_cross_correlation_not_convolution():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.array([[[[1.0, 0.0], [0.0, 0.0]]]])
    np.testing.assert_array_equal(ref.conv2d(x, w)[0, 0], x[0, 0, :3, :3])


def test_conv2d_defaults():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2))
    expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(w)).numpy()
    np.testing.assert_allclose(ref.conv2d(x, w), expected, rtol=1e-10, atol=1e-10)


def test_max_pool2d_matches_torch_on_random_inputs():
    rng = np.random.default_rng(4)
    for trial in range(60):
        n = 1 if trial % 5 == 0 else int(rng.integers(1, 4))
        x = rng.standard_normal((n, int(rng.integers(1, 4)), int(rng.integers(4, 13)), int(rng.integers(4, 13))))
        kernel_size = _random_arg(rng, 1, 4)
        stride = None if trial % 3 == 0 else _random_arg(rng, 1, 4)
        expected = F.max_pool2d(torch.from_numpy(x), kernel_size, stride=stride).numpy()
        x_before = x.copy()
        got = ref.max_pool2d(x, kernel_size) if stride is None else ref.max_pool2d(x, kernel_size, stride)
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(x, x_before)


# ---------------------------------------------------------------- lecture facts

def test_lecture_sharpen_example():
    image = ref.LECTURE_IMAGE
    # The image as the lecture prints it (curriculum.md).
    np.testing.assert_array_equal(image, [[0, 1, 1, 0, 0], [0, 1, 1, 0, 0], [1, 0, 0, 1, 1], [0, 1, 1, 0, 1],
                                          [1, 1, 1, 1, 1]])
    out = ref.conv2d(image[None, None].astype(float), ref.SHARPEN_KERNEL[None, None].astype(float))
    np.testing.assert_array_equal(out[0, 0], [[3, 3, -2], [-3, -3, 4], [3, 3, -4]])
    np.testing.assert_array_equal(out[0, 0], ref.LECTURE_SHARPENED)
    torch_out = F.conv2d(torch.tensor(image[None, None], dtype=torch.float64),
                         torch.tensor(ref.SHARPEN_KERNEL[None, None], dtype=torch.float64))
    np.testing.assert_array_equal(torch_out.numpy()[0, 0], ref.LECTURE_SHARPENED)


def test_misprinted_sharpen_slide_is_impossible():
    # The slide that prints the last entry as 4 cannot come from any 5x5 binary image that
    # also gives the other eight entries. Brute force over the 2^21 pixels that matter (the four
    # corners never enter a window of this cross-shaped kernel); the correct output has exactly
    # four solutions on those pixels, the printed LECTURE_IMAGE's among them.
    wrong = ref.LECTURE_SHARPENED.copy()
    wrong[2, 2] = 4
    cells = [(i, j) for i, j in itertools.product(range(5), range(5)) if (i, j) not in {(0, 0), (0, 4), (4, 0), (4, 4)}]
    codes = np.arange(2 ** len(cells), dtype=np.int32)
    images = np.zeros((codes.size, 5, 5), dtype=np.int8)
    for bit, (i, j) in enumerate(cells):
        images[:, i, j] = (codes >> bit) & 1
    centre = images[:, 1:4, 1:4].astype(np.int16)
    out = (5 * centre - images[:, 0:3, 1:4] - images[:, 2:5, 1:4] - images[:, 1:4, 0:3] - images[:, 1:4, 2:5])
    assert not np.all(out == wrong, axis=(1, 2)).any()
    matches = np.all(out == ref.LECTURE_SHARPENED, axis=(1, 2))
    assert matches.sum() == 4
    inner = np.ones((5, 5), dtype=bool)
    inner[[0, 0, 4, 4], [0, 4, 0, 4]] = False
    assert any(np.array_equal(img[inner], ref.LECTURE_IMAGE[inner]) for img in images[matches])


def test_lecture_max_pool_example():
    x = np.array([[12, 20, 30, 0], [8, 12, 2, 0], [34, 70, 37, 4], [112, 100, 25, 12]], dtype=float)
    np.testing.assert_array_equal(ref.LECTURE_POOL_INPUT, x)
    expected = [[20, 30], [112, 37]]
    np.testing.assert_array_equal(ref.max_pool2d(x[None, None], 2, 2)[0, 0], expected)
    np.testing.assert_array_equal(ref.max_pool2d(x[None, None], 2)[0, 0], expected)
    np.testing.assert_array_equal(F.max_pool2d(torch.from_numpy(x[None, None]), 2).numpy()[0, 0], expected)
    np.testing.assert_array_equal(ref.LECTURE_POOLED, expected)


def test_lecture_x_filter_example():
    x = torch.tensor(ref.X_IMAGE[None, None], dtype=torch.float64)
    w = torch.tensor(ref.X_FILTER[None, None], dtype=torch.float64)
    assert ref.X_IMAGE.tolist() == (np.eye(5, dtype=int) | np.fliplr(np.eye(5, dtype=int))).tolist()
    np.testing.assert_array_equal(F.conv2d(x, w).numpy()[0, 0], ref.X_FILTERED)
    np.testing.assert_array_equal(ref.conv2d(x.numpy(), w.numpy())[0, 0], [[3, 0, 3], [0, 5, 0], [3, 0, 3]])
    assert ref.X_FILTERED.max() == ref.X_FILTER.sum() == ref.X_FILTERED[1, 1]  # all of it matched at the centre


def test_lecture_average_pooling_is_a_convolution():
    x = torch.tensor(ref.LECTURE_POOL_INPUT[None, None], dtype=torch.float64)
    np.testing.assert_array_equal(F.avg_pool2d(x, 2).numpy()[0, 0], [[13, 8], [79, 19.5]])
    np.testing.assert_array_equal(ref.LECTURE_AVG_POOLED, [[13, 8], [79, 19.5]])
    np.testing.assert_allclose(ref.conv2d(x.numpy(), np.full((1, 1, 2, 2), 0.25), stride=2)[0, 0],
                               ref.LECTURE_AVG_POOLED, rtol=0, atol=1e-12)


def test_lecture_parameter_counts_match_torch():
    for (c_in, c_out, k), count in ref.LECTURE_PARAM_COUNTS.items():
        assert sum(p.numel() for p in torch.nn.Conv2d(c_in, c_out, k).parameters()) == count
        assert ref.conv2d_param_count(c_in, c_out, k) == count
    assert ref.LECTURE_PARAM_COUNTS == {(3, 2, 3): 56, (3, 96, 11): 34_944}


def test_lecture_lenet_fully_connected_layers_as_convolutions():
    """256 -> 120 -> 84 -> 10 after the flatten: each Linear is the convolution the check asks for."""
    assert ref.LENET_FC_SIZES == (256, 120, 84, 10)
    assert ref.lenet_shapes()[-1] == (ref.LENET_FC_SIZES[0],)
    torch.manual_seed(0)
    fc = [torch.nn.Linear(a, b).double() for a, b in zip(ref.LENET_FC_SIZES, ref.LENET_FC_SIZES[1:])]
    assert [sum(p.numel() for p in layer.parameters()) for layer in fc] == [30_840, 10_164, 850]
    assert ref.conv2d_param_count(16, 120, 4) == 30_840
    assert ref.conv2d_param_count(120, 84, 1) == 10_164 and ref.conv2d_param_count(84, 10, 1) == 850
    assert ref.conv2d_output_shape((1, 16, 4, 4), 120, 4) == (1, 120, 1, 1)
    x = torch.randn(2, 16, 4, 4, dtype=torch.float64)
    as_conv = ref.conv2d(x.numpy(), fc[0].weight.detach().numpy().reshape(120, 16, 4, 4), fc[0].bias.detach().numpy())
    np.testing.assert_allclose(as_conv[:, :, 0, 0], fc[0](x.flatten(1)).detach().numpy(), rtol=1e-12, atol=1e-12)


class LeNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stages = torch.nn.ModuleList([
            torch.nn.Sequential(torch.nn.Conv2d(1, 6, 5), torch.nn.ReLU()),
            torch.nn.MaxPool2d(2, 2),
            torch.nn.Sequential(torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU()),
            torch.nn.MaxPool2d(2, 2),
            torch.nn.Flatten(),
        ])

    def shapes(self, height, width):
        x = torch.zeros(1, 1, height, width)
        out = []
        with torch.no_grad():
            for stage in self.stages:
                x = stage(x)
                out.append(tuple(x.shape[1:]))
        return out


@pytest.mark.parametrize("height,width", [(28, 28), (32, 32), (36, 28), (29, 33), (16, 16)])
def test_lenet_shapes_match_torch(height, width):
    assert ref.lenet_shapes(height, width) == LeNet().shapes(height, width)


def test_lenet_shapes_lecture_values():
    assert ref.lenet_shapes() == [(6, 24, 24), (6, 12, 12), (16, 8, 8), (16, 4, 4), (256,)]
    assert ref.lenet_shapes(32, 32) == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (400,)]


# ---------------------------------------------------------------- the stub states the contract

CONTRACT = {
    "conv_output_size": "(n, kernel_size, stride=1, padding=0, dilation=1)",
    "conv2d_output_shape": "(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1)",
    "pool2d_output_shape": "(input_shape, kernel_size, stride=None, padding=0)",
    "conv2d_param_count": "(in_channels, out_channels, kernel_size, bias=True)",
    "conv2d": "(x, w, b=None, stride=1, padding=0)",
    "max_pool2d": "(x, kernel_size, stride=None)",
    "lenet_shapes": "(height=28, width=28)",
}


def test_reference_and_stub_have_the_contract_signatures():
    import inspect
    spec = importlib.util.spec_from_file_location("stub_conv", ROOT / "assignments" / "conv" / "stub.py")
    stub = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stub)
    for name, signature in CONTRACT.items():
        assert str(inspect.signature(getattr(ref, name))) == signature, name
        assert str(inspect.signature(getattr(stub, name))) == signature, name
        with pytest.raises(NotImplementedError):
            getattr(stub, name)(*[1] * sum(p.default is inspect.Parameter.empty
                                           for p in inspect.signature(getattr(stub, name)).parameters.values()))
