# %% [markdown]
# # Convolution: output shapes and operations
#
# In this assignment you compute the shapes that convolution and pooling layers produce,
# and implement 2-D convolution and max pooling yourself, with NumPy only.
#
# Conventions are those of `torch.nn.Conv2d` and `torch.nn.MaxPool2d`:
#
# - `padding` is zero padding added on **each** side of the input;
# - `kernel_size`, `stride`, `padding` and `dilation` may be an int (the same for height and
#   width) or an `(h, w)` pair;
# - "convolution" in deep learning is *cross-correlation*: the kernel slides over the input
#   without being flipped.
#
# Keep the function names and signatures exactly as given. Your functions must not modify
# their input arrays. Demo code, prints and plots may stay in the file: they do not affect
# grading (but keep them fast).

# %%
import numpy as np

# %% [markdown]
# ## 1. Output sizes
#
# Along one dimension, an input of length `n` convolved with a kernel of size `kernel_size`
# gives
#
#     floor((n + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1
#
# values. Raise `ValueError` when that is not positive, or when `kernel_size < 1`,
# `stride < 1`, `dilation < 1` or `padding < 0`.

# %%
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    """Output length along one dimension (ints only)."""
    raise NotImplementedError


# %% [markdown]
# `conv2d_output_shape` maps an input shape `(N, C_in, H, W)` to `(N, out_channels, H_out, W_out)`.
# `pool2d_output_shape` does the same for `MaxPool2d`: the channels are unchanged, `stride`
# defaults to `kernel_size` when it is `None`, and `padding` may be at most half of
# `kernel_size` (else `ValueError`). Remember that each of `kernel_size`, `stride`,
# `padding`, `dilation` may be an int or an `(h, w)` pair.

# %%
def conv2d_output_shape(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    """(N, C_in, H, W) -> (N, out_channels, H_out, W_out), as torch.nn.Conv2d."""
    raise NotImplementedError


# %%
def pool2d_output_shape(input_shape, kernel_size, stride=None, padding=0):
    """(N, C, H, W) -> (N, C, H_out, W_out), as torch.nn.MaxPool2d."""
    raise NotImplementedError


# %% [markdown]
# ## 2. Parameters
#
# How many learnable parameters does a `Conv2d(in_channels, out_channels, kernel_size, bias=bias)`
# layer have? The lectures' examples: `Conv2d(3, 2, 3)` has 56, and AlexNet's first convolution
# (3 → 96 channels, 11×11) has 34,944. (Compare: a fully connected layer from an 800×800 image
# to 100 units has 64,000,000 weights.)

# %%
def conv2d_param_count(in_channels, out_channels, kernel_size, bias=True):
    """Number of learnable parameters of torch.nn.Conv2d."""
    raise NotImplementedError


# %% [markdown]
# ## 3. Convolution and max pooling
#
# `conv2d(x, w, b, stride, padding)`: `x` has shape `(N, C_in, H, W)`, `w` has shape
# `(C_out, C_in, kH, kW)`, `b` is `None` or has shape `(C_out,)`. Output `(N, C_out, H_out, W_out)`:
#
#     out[n, o, i, j] = b[o] + sum over c, p, q of  x_padded[n, c, i*sh + p, j*sw + q] * w[o, c, p, q]
#
# `max_pool2d(x, kernel_size, stride)`: the maximum over each window, no padding; `stride`
# defaults to `kernel_size`.

# %%
def conv2d(x, w, b=None, stride=1, padding=0):
    """Cross-correlation as torch.nn.functional.conv2d, NumPy only."""
    raise NotImplementedError


# %%
def max_pool2d(x, kernel_size, stride=None):
    """Max pooling as torch.nn.functional.max_pool2d (no padding), NumPy only."""
    raise NotImplementedError


# %% [markdown]
# ## 4. LeNet
#
# The lecture's LeNet: conv(1→6, 5) → ReLU → max pool(2, stride 2) → conv(6→16, 5) → ReLU →
# max pool(2, stride 2) → flatten. Return the shape (without the batch dimension) after each
# of conv1, pool1, conv2, pool2 and flatten, as a list of tuples; for a 28×28 input:
# `[(6, 24, 24), (6, 12, 12), (16, 8, 8), (16, 4, 4), (256,)]`. (The lecture's LeNet then
# continues with fully connected layers 256 → 120 → 84 → 10; `lenet_shapes` stops at the flatten.)

# %%
def lenet_shapes(height=28, width=28):
    """Shapes after conv1, pool1, conv2, pool2, flatten for a height x width input."""
    raise NotImplementedError


# %% [markdown]
# ## Try it
#
# The lecture's sharpen example: the 5×5 binary image
# `[[0, 1, 1, 0, 0], [0, 1, 1, 0, 0], [1, 0, 0, 1, 1], [0, 1, 1, 0, 1], [1, 1, 1, 1, 1]]`
# and the kernel `[[0, -1, 0], [-1, 5, -1], [0, -1, 0]]` give
# `[[3, 3, -2], [-3, -3, 4], [3, 3, -4]]` (reshape both to 4-D first).
# The X-shaped filter `[[1, 0, 1], [0, 1, 0], [1, 0, 1]]` on a 5×5 image of an X (ones on both
# diagonals) gives `[[3, 0, 3], [0, 5, 0], [3, 0, 3]]`: strongest at the X's centre.
# Max pooling `[[12, 20, 30, 0], [8, 12, 2, 0], [34, 70, 37, 4], [112, 100, 25, 12]]` with
# 2×2 windows gives `[[20, 30], [112, 37]]`; average pooling gives `[[13, 8], [79, 19.5]]`,
# and it is a convolution: `conv2d(x, np.full((1, 1, 2, 2), 0.25), stride=2)`.
# Check yours with `grader check conv <this file>`.
