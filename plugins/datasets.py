"""Datasets: inputs ``x`` and targets ``t`` drawn or loaded for a run."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from toolkit import (
    Dataset,
    MissingDependency,
    NpzError,
    NpzReader,
    Part,
    SettingError,
    hookimpl,
)

DIGITS_SAMPLES = 1797
"""Rows of scikit-learn's 8x8 digits."""
MAX_SAMPLES = 2**63 - 1
"""The most rows numpy can index."""
MAX_CLASS = 2**31 - 1
"""The largest class index a 1-D ``t`` may hold (the data's output layer has one unit per class)."""
_ARRAYS = ("x", "t", "x_test", "t_test")
Rng = np.random.RandomState | np.random.Generator
"""The run's generator: numpy's legacy RandomState or a Generator."""
Loaded = tuple[dict[str, np.ndarray], list[str]]
"""An .npz file's arrays x, t, x_test, t_test (those it holds), and the names of all its arrays."""
Problems = Iterator[tuple[str, str]]
"""What a ``validate`` function yields: (setting, what is wrong with it)."""
_SAVE_HINT = "save it with numpy.savez(path, x=x, t=t)"


def random(rng: Rng, samples: int = 100, features: int = 100, classes: int = 10) -> Dataset:
    """Standard-normal inputs and uniformly random one-hot labels (the seed program's)."""
    x = rng.standard_normal((samples, features))
    # A Generator has integers: only a RandomState gets to randint.
    draw = getattr(rng, "integers", None) or rng.randint  # type: ignore[union-attr]
    t = np.zeros((samples, classes))
    for row in range(samples):  # one scalar draw per row, in order
        t[row, draw(0, classes)] = 1
    return Dataset(x, t)


def teacher(
    rng: Rng,
    samples: int = 1000,
    features: int = 20,
    classes: int = 3,
    hidden: int = 16,
    test_fraction: float = 0.2,
) -> Dataset:
    """Random inputs labelled by a fixed random tanh network (the teacher), with a test split.

    Draws, in this order: ``x = rng.standard_normal((samples, features))``, then the
    teacher's ``W1 = rng.standard_normal((features, hidden))`` and
    ``W2 = rng.standard_normal((hidden, classes))``. A row's class is the argmax of
    ``tanh(x @ W1 / sqrt(features)) @ V``, where ``V`` is ``W2`` with each row's mean over
    the classes taken away (which leaves the argmax alone) and each column scaled to unit
    length, so that no class dominates. Targets are one-hot; the last
    ``held_out_rows(samples, test_fraction)`` rows are the held-out split.
    """
    x = rng.standard_normal((samples, features))
    w1 = rng.standard_normal((features, hidden))
    w2 = rng.standard_normal((hidden, classes))
    v = w2 - w2.mean(axis=1, keepdims=True)
    v /= np.linalg.norm(v, axis=0)
    labels = np.argmax(np.tanh(x @ w1 / np.sqrt(features)) @ v, axis=1)
    return _held_out(x, np.eye(classes)[labels], held_out_rows(samples, test_fraction))


def digits(rng: Rng, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1797 x 64, in [0, 1]), shuffled, with a test split.

    Needs scikit-learn (``pip install 'layer-toolkit[digits]'``); nothing is downloaded.
    Pixels are divided by 16; targets are one-hot over 10 classes. Rows are shuffled by
    ``rng.permutation(1797)`` (the only draw), and the last
    ``held_out_rows(1797, test_fraction)`` shuffled rows are the held-out split
    (none for ``test_fraction: 0``).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise MissingDependency(
            "name",
            "'digits' needs scikit-learn, which is not installed",
            "layer-toolkit[digits]",
        ) from None
    bunch = load_digits()
    order = rng.permutation(len(bunch.target))
    x = bunch.data[order] / 16.0
    t = np.eye(10)[bunch.target[order]]
    return _held_out(x, t, held_out_rows(len(t), test_fraction))


def npz(rng: Rng, path: str, test_path: str | None = None, test_fraction: float = 0.0) -> Dataset:
    """Your own arrays from an .npz file: x and t, optionally x_test and t_test.

    ``path`` (and ``test_path``) are relative to the spec file's folder. Make the file
    with ``numpy.savez(path, x=x, t=t)``: ``x`` is samples x features, ``t`` one-hot rows
    or whole-number class indices from 0. Nothing in the file is executed (object
    arrays are refused). The held-out split is the file's own ``x_test``, ``t_test``; or
    ``test_path``'s ``x`` and ``t``; or, with ``test_fraction`` above 0, the last
    ``held_out_rows(samples, test_fraction)`` rows after ``rng.permutation(samples)`` (the
    only draw; none when ``test_fraction`` is 0).
    """
    loaded = _load_npz("path", path)
    x, t = _pair("path", path, loaded, "x", "t")
    if "x_test" in loaded[0] or "t_test" in loaded[0]:
        for setting, value, fix in (
            ("test_path", test_path is not None, "leave test_path out"),
            ("test_fraction", test_fraction > 0, "set test_fraction: 0"),
        ):
            if value:
                raise SettingError(setting, f"is set but {path} holds x_test, t_test; {fix}")
        x_test, t_test = _pair("path", path, loaded, "x_test", "t_test")
        _match("path", path, x, t, x_test, t_test)
        return Dataset(x, t, x_test, t_test)
    if test_path is not None:
        x_test, t_test = _pair("test_path", test_path, _load_npz("test_path", test_path), "x", "t")
        _match("test_path", test_path, x, t, x_test, t_test)
        return Dataset(x, t, x_test, t_test)
    if test_fraction == 0:
        return Dataset(x, t)
    for _, problem in _check_split(len(x), test_fraction):
        raise SettingError("test_fraction", f"{problem} in {path}")
    order = rng.permutation(len(x))
    return _held_out(x[order], t[order], held_out_rows(len(x), test_fraction))


def held_out_rows(samples: int, fraction: float) -> int:
    """Rows held out: ``samples * fraction`` rounded half up."""
    return int(np.floor(samples * fraction + 0.5))


def _held_out(x: np.ndarray, t: np.ndarray, rows: int) -> Dataset:
    """The first rows to train on, the last ``rows`` held out (none when 0)."""
    if rows == 0:
        return Dataset(x, t)
    cut = len(x) - rows
    return Dataset(x[:cut], t[:cut], x[cut:], t[cut:])


def _load_npz(setting: str, path: str) -> Loaded:
    """The arrays ``x``, ``t``, ``x_test``, ``t_test`` the .npz file at ``path`` holds, and the
    names of all its arrays; SettingError for ``setting`` if it cannot be read."""
    hint = "check the path (relative to the spec file's folder)"
    try:
        with NpzReader(path, save_hint=_SAVE_HINT, path_hint=hint) as archive:
            arrays = {name: archive.read(name) for name in _ARRAYS if name in archive.names}
            return arrays, archive.names
    except NpzError as error:
        raise SettingError(setting, str(error)) from None


def _pair(
    setting: str, path: str, loaded: Loaded, x_name: str, t_name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Arrays ``x_name`` and ``t_name`` of ``loaded`` (arrays, all names) checked: shapes,
    finite numbers, class indices."""
    arrays, names = loaded
    missing = [name for name in (x_name, t_name) if name not in arrays]
    if missing:
        has = ", ".join(sorted(names)) or "none"
        raise SettingError(
            setting,
            f"{path}: no array '{missing[0]}' (it has: {has}); {_SAVE_HINT}",
        )
    x, t = arrays[x_name], arrays[t_name]

    def bad(problem: str) -> SettingError:
        return SettingError(setting, f"{path}: {problem}")

    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise bad(
            f"'{x_name}' has shape {x.shape}; it must be 2-D (samples x features), with at least "
            "one sample and one feature"
        )
    if t.ndim not in (1, 2):
        raise bad(
            f"'{t_name}' has shape {t.shape}; it must be one-hot rows (2-D) or class indices (1-D)"
        )
    if t.shape[0] != x.shape[0]:
        raise bad(
            f"'{x_name}' has {x.shape[0]} rows but '{t_name}' has {t.shape[0]}; give one target "
            "per sample"
        )
    for name, value in ((x_name, x), (t_name, t)):
        broken = ~np.isfinite(value)
        if broken.any():
            first = tuple(int(i) for i in np.argwhere(broken)[0])
            raise bad(
                f"'{name}' holds {int(broken.sum())} nan or infinite values (first at index "
                f"{first[0] if len(first) == 1 else first}); remove or replace them"
            )
    if t.ndim == 1:
        wrong = (t < 0) | (t != np.round(t)) | (t > MAX_CLASS)
        if wrong.any():
            row = int(np.argmax(wrong))
            raise bad(
                f"'{t_name}' holds {int(wrong.sum())} class indices that are not whole numbers "
                f"from 0 (first at index {row}: {t[row]}); use 0, 1, 2, ... up to {MAX_CLASS}"
            )
    return x, t


def _match(
    setting: str,
    path: str,
    x: np.ndarray,
    t: np.ndarray,
    x_test: np.ndarray,
    t_test: np.ndarray,
) -> None:
    """The held-out arrays have x's features and t's form."""
    if x_test.shape[1] != x.shape[1]:
        problem = f"has {x_test.shape[1]} features per sample but x has {x.shape[1]}"
    elif t_test.ndim != t.ndim or t_test.shape[1:] != t.shape[1:]:
        problem = f"targets have shape {t_test.shape}, not in the form of t {t.shape}"
    elif t.ndim == 1 and t_test.max() > t.max():
        problem = f"holds class {int(t_test.max())}, but t has classes 0 to {int(t.max())} only"
    else:
        return
    raise SettingError(setting, f"{path}: the held-out split {problem}; make them agree")


def check_random(samples: int, features: int, classes: int) -> Problems:
    for key, value in (("samples", samples), ("features", features), ("classes", classes)):
        if value < 1:
            yield key, f"must be at least 1, got {value}"


def check_teacher(
    samples: int, features: int, classes: int, hidden: int, test_fraction: float
) -> Problems:
    for key, value, least in (
        ("samples", samples, 2),
        ("features", features, 1),
        ("classes", classes, 2),
        ("hidden", hidden, 1),
    ):
        if value < least:
            yield key, f"must be at least {least}, got {value}"
    if samples > MAX_SAMPLES:
        yield "samples", f"must be at most {MAX_SAMPLES}, the most rows numpy can index"
    if not 0 < test_fraction < 1:
        yield "test_fraction", f"must be above 0 and below 1, got {test_fraction}"
    elif 2 <= samples <= MAX_SAMPLES:
        yield from _check_split(samples, test_fraction)


def check_digits(test_fraction: float) -> Problems:
    if not 0 <= test_fraction < 1:
        yield "test_fraction", f"must be from 0 up to (not including) 1, got {test_fraction}"
    elif test_fraction > 0:
        yield from _check_split(DIGITS_SAMPLES, test_fraction)


def check_npz(path: object, test_path: object, test_fraction: float) -> Problems:
    if not isinstance(path, str) or not path:
        yield "path", f"must be a file name in quotes, got {path!r}"
    if test_path is not None and (not isinstance(test_path, str) or not test_path):
        yield "test_path", f"must be a file name in quotes, got {test_path!r}"
    if not 0 <= test_fraction < 1:
        yield "test_fraction", f"must be from 0 up to (not including) 1, got {test_fraction}"
    elif test_path is not None and test_fraction > 0:
        yield "test_fraction", "must be 0 when test_path is set; give one or the other"


def setting_classes(classes: int, **settings: object) -> int:
    """The class count of ``random`` and ``teacher``: their ``classes`` setting."""
    return classes


def digits_classes(test_fraction: float) -> int:
    """The class count of ``digits``: the ten digits, known without scikit-learn."""
    return 10


def setting_features(features: int, **settings: object) -> int:
    """The sample shape of ``random`` and ``teacher``: their ``features`` setting."""
    return features


def digits_features(test_fraction: float) -> int:
    """The sample shape of ``digits``: 64 pixels (8 x 8), known without scikit-learn."""
    return 64


def _check_split(samples: int, fraction: float) -> Problems:
    rows = held_out_rows(samples, fraction)
    if rows == 0 or rows == samples:
        which = "test" if rows == 0 else "training"
        yield "test_fraction", f"{fraction} of {samples} samples leaves the {which} split empty"


@hookimpl
def toolkit_datasets() -> dict[str, Part]:
    return {
        "random": Part(
            random, validate=check_random, classes=setting_classes, features=setting_features
        ),
        "teacher": Part(
            teacher, validate=check_teacher, classes=setting_classes, features=setting_features
        ),
        "digits": Part(
            digits, validate=check_digits, classes=digits_classes, features=digits_features
        ),
        "npz": Part(npz, validate=check_npz, paths=("path", "test_path")),
    }
