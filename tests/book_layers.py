"""The book's convolution rules, written from its code ("Deep Learning from Scratch",
``common/util.py``: ``im2col``, ``col2im``; ``common/layers.py``: ``Convolution``,
``Pooling``), as the reference the convolution layers are compared with.

Kept as the book writes them (a loop over the kernel positions, the column matrix, its
reshapes and transposes), with two changes, both marked: ``stride`` and ``pad`` may be a
pair ``(height, width)`` (the book uses one number for both sides), and ``Pooling``'s
output size counts the padding as ``im2col`` does (the book's ``Pooling.forward`` leaves
``pad`` out of it, which only agrees with its own ``im2col`` for ``pad=0``).
"""

from __future__ import annotations

import numpy as np


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    """Changed: a pair, or one number for both sides."""
    return (value, value) if isinstance(value, int) else value


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """(N, C, H, W) -> (N * out_h * out_w, C * filter_h * filter_w)."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(pad)
    N, C, H, W = input_data.shape
    out_h = (H + 2 * ph - filter_h) // sh + 1
    out_w = (W + 2 * pw - filter_w) // sw + 1

    img = np.pad(input_data, [(0, 0), (0, 0), (ph, ph), (pw, pw)], "constant")
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w))

    for y in range(filter_h):
        y_max = y + sh * out_h
        for x in range(filter_w):
            x_max = x + sw * out_w
            col[:, :, y, x, :, :] = img[:, :, y:y_max:sh, x:x_max:sw]

    col = col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)
    return col


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The reverse of ``im2col``: each column's values added back at their place."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(pad)
    N, C, H, W = input_shape
    out_h = (H + 2 * ph - filter_h) // sh + 1
    out_w = (W + 2 * pw - filter_w) // sw + 1
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)

    img = np.zeros((N, C, H + 2 * ph + sh - 1, W + 2 * pw + sw - 1))
    for y in range(filter_h):
        y_max = y + sh * out_h
        for x in range(filter_w):
            x_max = x + sw * out_w
            img[:, :, y:y_max:sh, x:x_max:sw] += col[:, :, y, x, :, :]

    return img[:, :, ph : H + ph, pw : W + pw]


class Convolution:
    """The book's convolution layer (no activation)."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.x = None
        self.col = None
        self.col_W = None
        self.dW = None
        self.db = None

    def forward(self, x):
        (sh, sw), (ph, pw) = _pair(self.stride), _pair(self.pad)
        FN, _, FH, FW = self.W.shape
        N, _, H, W = x.shape
        out_h = 1 + int((H + 2 * ph - FH) / sh)
        out_w = 1 + int((W + 2 * pw - FW) / sw)

        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = self.W.reshape(FN, -1).T

        out = np.dot(col, col_W) + self.b
        out = out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

        self.x = x
        self.col = col
        self.col_W = col_W
        return out

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)

        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout)
        self.dW = self.dW.transpose(1, 0).reshape(FN, C, FH, FW)

        dcol = np.dot(dout, self.col_W.T)
        dx = col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)
        return dx


class Pooling:
    """The book's max pooling layer."""

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.x = None
        self.arg_max = None

    def forward(self, x):
        (sh, sw), (ph, pw) = _pair(self.stride), _pair(self.pad)
        N, C, H, W = x.shape
        # Changed: the padding counted, as im2col counts it.
        out_h = int(1 + (H + 2 * ph - self.pool_h) / sh)
        out_w = int(1 + (W + 2 * pw - self.pool_w) / sw)

        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)

        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        out = out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

        self.x = x
        self.arg_max = arg_max
        return out

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)

        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape((*dout.shape, pool_size))

        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], -1)
        dx = col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)
        return dx
