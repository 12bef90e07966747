"""The seed program, written out independently of the toolkit: the numbers to match.

A two-layer network in the style of "Deep Learning from Scratch" chapter 4:
affine -> sigmoid or relu -> affine -> softmax, cross-entropy, element-loop central
differences, SGD. Draw order: x, one label per row, W1, W2, then a batch per iteration.
"""

from __future__ import annotations

import numpy as np


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _relu(a):
    return np.maximum(0, a)


def _softmax(a):
    a = a - a.max(axis=-1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=-1, keepdims=True)


def seed_program(
    *,
    activation="sigmoid",
    seed=42,
    samples=100,
    features=100,
    hidden=10,
    classes=10,
    iterations=300,
    batch_size=10,
    learning_rate=0.1,
    log_every=100,
    h=1e-4,
    legacy=True,
):
    """Run the program; return [(iteration, loss)] at each log point."""
    rs = np.random.RandomState(seed) if legacy else np.random.default_rng(seed)
    x = rs.randn(samples, features) if legacy else rs.standard_normal((samples, features))
    t = np.zeros((samples, classes))
    for i in range(samples):
        t[i, rs.randint(0, classes) if legacy else rs.integers(0, classes)] = 1
    uniform = rs.rand if legacy else (lambda *shape: rs.random(shape))
    p = {
        "W1": 0.01 * uniform(features, hidden),
        "b1": np.zeros(hidden),
        "W2": 0.01 * uniform(hidden, classes),
        "b2": np.zeros(classes),
    }
    f = _sigmoid if activation == "sigmoid" else _relu

    def loss(xb, tb):
        y = _softmax(f(xb @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"])
        n = y.shape[0]
        return -np.sum(np.log(y[np.arange(n), tb.argmax(axis=1)] + 1e-7)) / n

    def grad(xb, tb):
        g = {}
        for k in ("W1", "b1", "W2", "b2"):
            a = p[k]
            gr = np.zeros_like(a)
            it = np.nditer(a, flags=["multi_index"])
            while not it.finished:
                i = it.multi_index
                v = a[i]
                a[i] = v + h
                f1 = loss(xb, tb)
                a[i] = v - h
                f2 = loss(xb, tb)
                a[i] = v
                gr[i] = (f1 - f2) / (2 * h)
                it.iternext()
            g[k] = gr
        return g

    logged = []
    for it in range(1, iterations + 1):
        idx = rs.choice(samples, batch_size)
        g = grad(x[idx], t[idx])
        for k in p:
            p[k] -= learning_rate * g[k]
        if it % log_every == 0:
            logged.append((it, float(loss(x[idx], t[idx]))))
    return logged, p
