# %% [markdown]
# # Convolution: output shapes and operations
# Bug: one bias for the whole layer instead of one per output channel.
# My solution.

# %%
import numpy as np


def _two(v):
    # int or (h, w) pair -> (h, w)
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


# %%
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    if kernel_size < 1:
        raise ValueError("kernel_size must be >= 1")
    if stride < 1:
        raise ValueError("stride must be >= 1")
    if dilation < 1:
        raise ValueError("dilation must be >= 1")
    if padding < 0:
        raise ValueError("padding must be >= 0")
    out = (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out <= 0:
        raise ValueError(f"output size {out} is not positive")
    return out


# %%
def conv2d_output_shape(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    N, C, H, W = input_shape
    kh, kw = _two(kernel_size)
    sh, sw = _two(stride)
    ph, pw = _two(padding)
    dh, dw = _two(dilation)
    return (N, out_channels, conv_output_size(H, kh, sh, ph, dh), conv_output_size(W, kw, sw, pw, dw))


# %%
def pool2d_output_shape(input_shape, kernel_size, stride=None, padding=0):
    if stride is None:
        stride = kernel_size
    N, C, H, W = input_shape
    kh, kw = _two(kernel_size)
    sh, sw = _two(stride)
    ph, pw = _two(padding)
    if ph > kh / 2 or pw > kw / 2:
        raise ValueError("padding should be at most half of kernel size")
    return (N, C, conv_output_size(H, kh, sh, ph), conv_output_size(W, kw, sw, pw))


# %%
def conv2d_param_count(in_channels, out_channels, kernel_size, bias=True):
    kh, kw = _two(kernel_size)
    count = in_channels * out_channels * kh * kw
    if bias:
        count += 1  # BUG: one bias per layer, not one per output channel
    return count


# %%
def conv2d(x, w, b=None, stride=1, padding=0):
    N, C, H, W = x.shape
    F, C2, HH, WW = w.shape
    assert C == C2, "channel mismatch"
    sh, sw = _two(stride)
    ph, pw = _two(padding)
    Hout = conv_output_size(H, HH, sh, ph)
    Wout = conv_output_size(W, WW, sw, pw)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode="constant")
    out = np.zeros((N, F, Hout, Wout))
    for i in range(Hout):
        for j in range(Wout):
            window = xp[:, :, i * sh:i * sh + HH, j * sw:j * sw + WW]   # (N, C, HH, WW)
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


# %%
def max_pool2d(x, kernel_size, stride=None):
    if stride is None:
        stride = kernel_size
    kh, kw = _two(kernel_size)
    sh, sw = _two(stride)
    N, C, H, W = x.shape
    Hout = conv_output_size(H, kh, sh)
    Wout = conv_output_size(W, kw, sw)
    out = np.empty((N, C, Hout, Wout), dtype=x.dtype)
    for i in range(Hout):
        for j in range(Wout):
            out[:, :, i, j] = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].max(axis=(2, 3))
    return out


# %%
def lenet_shapes(height=28, width=28):
    shapes = []
    s = (1, 1, height, width)
    s = conv2d_output_shape(s, 6, 5)
    shapes.append(s[1:])          # relu keeps the shape
    s = pool2d_output_shape(s, 2, 2)
    shapes.append(s[1:])
    s = conv2d_output_shape(s, 16, 5)
    shapes.append(s[1:])
    s = pool2d_output_shape(s, 2, 2)
    shapes.append(s[1:])
    shapes.append((s[1] * s[2] * s[3],))
    return shapes


# %% quick test
img = np.array([[0, 1, 1, 0, 0], [0, 1, 1, 0, 0], [1, 0, 0, 1, 1], [1, 1, 1, 0, 1], [0, 0, 1, 1, 0]], float)
k = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float)
print(conv2d(img[None, None], k[None, None])[0, 0])
print(lenet_shapes())
