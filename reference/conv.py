"""Reference solution of the ``conv`` assignment (hidden from students).

Conventions follow ``torch.nn.Conv2d`` / ``torch.nn.MaxPool2d``: padding is zero padding
on *each* side, ``kernel_size``, ``stride``, ``padding`` and ``dilation`` are an int or an
(h, w) pair, and "convolution" is cross-correlation (the kernel is not flipped).
NumPy only; ``tests/test_reference_conv.py`` checks all of this against PyTorch.
"""

from __future__ import annotations

import operator

import numpy as np

#: The sharpen kernel of the lecture.
SHARPEN_KERNEL = np.array([[0, -1, 0],
                           [-1, 5, -1],
                           [0, -1, 0]])

#: The lecture's 5x5 binary image, as printed (curriculum.md). Its valid 3x3 cross-correlation
#: with ``SHARPEN_KERNEL`` is ``LECTURE_SHARPENED``; one slide deck prints the last entry as 4,
#: and that slide is wrong: no 0/1 image gives the other eight entries with a 4 there (the four
#: corner pixels never enter a window of this cross-shaped kernel, so only the 21 others matter).
LECTURE_IMAGE = np.array([[0, 1, 1, 0, 0],
                          [0, 1, 1, 0, 0],
                          [1, 0, 0, 1, 1],
                          [0, 1, 1, 0, 1],
                          [1, 1, 1, 1, 1]])

#: The correct output of the lecture's sharpen example.
LECTURE_SHARPENED = np.array([[3, 3, -2],
                              [-3, -3, 4],
                              [3, 3, -4]])

#: The lecture's 4x4 max-pooling example (2x2 windows, stride 2) and its result.
LECTURE_POOL_INPUT = np.array([[12, 20, 30, 0],
                               [8, 12, 2, 0],
                               [34, 70, 37, 4],
                               [112, 100, 25, 12]])
LECTURE_POOLED = np.array([[20, 30],
                           [112, 37]])

#: Average pooling of the same example (2x2 windows, stride 2): the mean of each window. It is
#: a convolution whose kernel holds 1/4 everywhere, so conv2d computes it.
LECTURE_AVG_POOLED = np.array([[13, 8],
                               [79, 19.5]])

#: The X-shaped filter example: a 5x5 image of an X and a 3x3 filter of the same shape. The
#: filter answers most (5, all of its ones matched) where the X's centre is.
X_IMAGE = np.array([[1, 0, 0, 0, 1],
                    [0, 1, 0, 1, 0],
                    [0, 0, 1, 0, 0],
                    [0, 1, 0, 1, 0],
                    [1, 0, 0, 0, 1]])
X_FILTER = np.array([[1, 0, 1],
                     [0, 1, 0],
                     [1, 0, 1]])
X_FILTERED = np.array([[3, 0, 3],
                       [0, 5, 0],
                       [3, 0, 3]])

#: A fully connected layer from an 800x800 image to 100 units has 800 * 800 * 100 weights.
FC_800x800_TO_100_WEIGHTS = 64_000_000

#: Parameter counts the lectures print: (in_channels, out_channels, kernel_size) -> parameters,
#: Conv2d(3, 2, 3) and AlexNet's first convolution (3 -> 96 channels, 11x11).
LECTURE_PARAM_COUNTS = {(3, 2, 3): 56, (3, 96, 11): 34_944}

#: The lecture's LeNet after the flatten: fully connected layers 256 -> 120 -> 84 -> 10.
LENET_FC_SIZES = (256, 120, 84, 10)


def _int(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, not a bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}") from None


def _pair(value, name: str) -> tuple[int, int]:
    """An int or an (h, w) pair as a pair of ints."""
    if isinstance(value, (tuple, list, np.ndarray)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or an (h, w) pair, got {value!r}")
        return _int(value[0], name), _int(value[1], name)
    v = _int(value, name)
    return v, v


def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    """Output length along one dimension of a convolution (or pooling) of an input of length n.

    floor((n + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1, as in torch.nn.Conv2d.
    """
    n = _int(n, "n")
    kernel_size = _int(kernel_size, "kernel_size")
    stride = _int(stride, "stride")
    padding = _int(padding, "padding")
    dilation = _int(dilation, "dilation")
    if kernel_size < 1:
        raise ValueError(f"kernel_size must be at least 1, got {kernel_size}")
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if dilation < 1:
        raise ValueError(f"dilation must be at least 1, got {dilation}")
    if padding < 0:
        raise ValueError(f"padding must be non-negative, got {padding}")
    size = (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if size < 1:
        raise ValueError(
            f"the output size would be {size}: the (dilated) kernel of extent "
            f"{dilation * (kernel_size - 1) + 1} does not fit in the padded input of length {n + 2 * padding}")
    return size


def conv2d_output_shape(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    """(N, C_in, H, W) -> (N, out_channels, H_out, W_out) for torch.nn.Conv2d."""
    if len(input_shape) != 4:
        raise ValueError(f"input_shape must be (N, C_in, H, W), got {tuple(input_shape)!r}")
    batch, _, height, width = (_int(v, "input_shape") for v in input_shape)
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    dh, dw = _pair(dilation, "dilation")
    return (batch, _int(out_channels, "out_channels"),
            conv_output_size(height, kh, sh, ph, dh),
            conv_output_size(width, kw, sw, pw, dw))


def pool2d_output_shape(input_shape, kernel_size, stride=None, padding=0):
    """(N, C, H, W) -> (N, C, H_out, W_out) for torch.nn.MaxPool2d (stride defaults to kernel_size)."""
    if len(input_shape) not in (3, 4):
        raise ValueError(f"input_shape must be (N, C, H, W), got {tuple(input_shape)!r}")
    *leading, height, width = (_int(v, "input_shape") for v in input_shape)
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(kernel_size if stride is None else stride, "stride")
    ph, pw = _pair(padding, "padding")
    for k, p in ((kh, ph), (kw, pw)):
        if k >= 1 and 2 * p > k:
            raise ValueError(f"padding must be at most half of kernel_size, got padding={p} for kernel_size={k}")
    return (*leading, conv_output_size(height, kh, sh, ph), conv_output_size(width, kw, sw, pw))


def conv2d_param_count(in_channels, out_channels, kernel_size, bias=True):
    """Learnable parameters of torch.nn.Conv2d: out*in*kh*kw weights, plus out biases."""
    kh, kw = _pair(kernel_size, "kernel_size")
    in_channels = _int(in_channels, "in_channels")
    out_channels = _int(out_channels, "out_channels")
    return out_channels * in_channels * kh * kw + (out_channels if bias else 0)


def conv2d(x, w, b=None, stride=1, padding=0):
    """Cross-correlation as torch.nn.functional.conv2d: x (N, C_in, H, W), w (C_out, C_in, kH, kW)."""
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"x must be (N, C_in, H, W) and w (C_out, C_in, kH, kW), got shapes {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]}")
    n, _, height, width = x.shape
    c_out, _, kh, kw = w.shape
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    h_out = conv_output_size(height, kh, sh, ph)
    w_out = conv_output_size(width, kw, sw, pw)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dtype = np.result_type(x, w, np.float64) if b is None else np.result_type(x, w, np.asarray(b), np.float64)
    out = np.zeros((n, c_out, h_out, w_out), dtype=dtype)
    for p in range(kh):
        for q in range(kw):
            patch = xp[:, :, p:p + sh * (h_out - 1) + 1:sh, q:q + sw * (w_out - 1) + 1:sw]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, p, q])
    if b is not None:
        b = np.asarray(b)
        if b.shape != (c_out,):
            raise ValueError(f"b must have shape ({c_out},), got {b.shape}")
        out += b[None, :, None, None]
    return out


def max_pool2d(x, kernel_size, stride=None):
    """Max pooling as torch.nn.functional.max_pool2d without padding; stride defaults to kernel_size."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {x.shape}")
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(kernel_size if stride is None else stride, "stride")
    h_out = conv_output_size(x.shape[2], kh, sh)
    w_out = conv_output_size(x.shape[3], kw, sw)
    out = None
    for p in range(kh):
        for q in range(kw):
            patch = x[:, :, p:p + sh * (h_out - 1) + 1:sh, q:q + sw * (w_out - 1) + 1:sw]
            out = patch.copy() if out is None else np.maximum(out, patch)
    return out


def lenet_shapes(height=28, width=28):
    """Shapes (without batch) after each stage of the lecture's LeNet.

    conv(1->6, 5) relu pool(2, 2) conv(6->16, 5) relu pool(2, 2) flatten; ReLU keeps the shape,
    so the stages listed are conv1, pool1, conv2, pool2, flatten.
    """
    shape = (1, 1, height, width)
    shapes = []
    shape = conv2d_output_shape(shape, 6, 5)
    shapes.append(shape[1:])
    shape = pool2d_output_shape(shape, 2, 2)
    shapes.append(shape[1:])
    shape = conv2d_output_shape(shape, 16, 5)
    shapes.append(shape[1:])
    shape = pool2d_output_shape(shape, 2, 2)
    shapes.append(shape[1:])
    shapes.append((shape[1] * shape[2] * shape[3],))
    return shapes
