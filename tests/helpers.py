"""What the tests share: the shipped specs, the ``toolkit`` command in this process or as a
real process, files, installs, memory caps, fake distributions and the fuzz settings.

Fixtures that wrap these (``run_cli``, ``run_process``, ``manager``, ``plugin_folder``) are
in ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.metadata
import io
import json
import locale
import os
import resource
import shutil
import subprocess
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from toolkit.registry.manager import ENTRY_POINT_GROUP

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

RunCli = Callable[..., subprocess.CompletedProcess[str]]

DEBUG_VARIABLE = "TOOLKIT_DEBUG"
_FUZZ_HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]


def fuzz_settings(ci: int, slow: int) -> tuple[settings, settings]:
    """Hypothesis settings of the fuzz tests: ``ci`` examples in a fixed, derandomized
    search (shrinking one bug, quickly), and ``slow`` random ones for ``pytest -m slow``."""
    common = settings(deadline=None, database=None, suppress_health_check=_FUZZ_HEALTH)
    quick = settings(common, max_examples=ci, derandomize=True, report_multiple_bugs=False)
    return quick, settings(common, max_examples=slow)


def memory_cap(limit: int) -> Callable[[], None]:
    """A ``preexec_fn`` that gives the child at most ``limit`` bytes of address space, so
    that a command that reads without bound fails at once instead of taking the machine."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return cap


def capped_toolkit(*args: str, memory: int = 1 << 30) -> subprocess.CompletedProcess[str]:
    """The real command (``python -m toolkit``) within ``memory`` bytes and 60 seconds: a
    read that blocks or never ends fails the test instead of hanging it."""
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=memory_cap(memory),
        env={key: value for key, value in os.environ.items() if key != DEBUG_VARIABLE},
    )


def _toolkit_command() -> str:
    found = shutil.which("toolkit", path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError("the toolkit command is not installed: run pip install -e '.[test]'")
    return found


def run_toolkit(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed ``toolkit`` command as a real process in ``cwd``, with the environment
    (less TOOLKIT_DEBUG) plus ``env``; the finished process."""
    environment = {key: value for key, value in os.environ.items() if key != DEBUG_VARIABLE}
    environment.update(env or {})
    return subprocess.run(
        [_toolkit_command(), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def call_toolkit(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The ``toolkit`` command's entry function called in this process as a real process
    would run it: ``sys.argv``, the folder, the environment (less TOOLKIT_DEBUG, plus
    ``env``), the import path (PYTHONPATH included) and Python's default warning filters are
    a fresh process's, standard output and error are pipes; the exit code and both texts.

    Modules it imports from outside the environment and the project (a test's plugins) are
    forgotten after, as they would be with the process. A module on PYTHONPATH hides one of
    its name that this process loaded, unless importing the toolkit loaded it (numpy, yaml,
    pluggy): to replace those, use a real process."""
    import toolkit_entry

    out, err = _Pipe(), _Pipe()
    with _as_a_fresh_process(args, cwd, env or {}), _redirected(out, err):
        code = _exit_code(toolkit_entry.main)
    return subprocess.CompletedProcess(["toolkit", *args], code, out.text(), err.text())


class _Pipe(io.TextIOWrapper):
    """A standard stream that is not a terminal and has no file descriptor, as a pipe read by
    ``subprocess`` looks to the command (bytes in the locale's encoding)."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding=locale.getpreferredencoding(False))

    def text(self) -> str:
        """What was written, decoded as ``subprocess.run(text=True)`` decodes it."""
        self.flush()
        raw = self.buffer.getvalue()  # type: ignore[attr-defined]
        return io.TextIOWrapper(io.BytesIO(raw), encoding=self.encoding).read()

    def close(self) -> None:  # the texts are read after the command is done
        self.flush()


def _exit_code(entry: Callable[[], int | None]) -> int:
    """The code the process would exit with: what the entry returns or raises in SystemExit;
    an exception that escapes is printed with its traceback, code 1, as Python does."""
    try:
        return _code_of(entry())
    except SystemExit as exit:
        return _code_of(exit.code)
    except Exception:
        traceback.print_exc()
        return 1


def _code_of(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


@contextlib.contextmanager
def _redirected(out: _Pipe, err: _Pipe) -> Iterator[None]:
    """Standard output and error, and the interpreter's own (``sys.__stdout__``, which the
    terminal size is read from), are ``out`` and ``err``."""
    saved = sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__
    sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__ = out, err, out, err
    try:
        yield
    finally:
        sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__ = saved


@contextlib.contextmanager
def _as_a_fresh_process(args: tuple[str, ...], cwd: Path, env: Mapping[str, str]) -> Iterator[None]:
    """Arguments, folder, environment, import path and warning filters of a new ``toolkit``
    process; everything as it was afterwards, the modules it imported from a test's folders
    forgotten."""
    saved_argv, saved_path, saved_cwd = list(sys.argv), list(sys.path), os.getcwd()
    saved_environ, known = dict(os.environ), set(sys.modules)
    shadowed: dict[str, ModuleType] = {}
    try:
        os.environ.pop(DEBUG_VARIABLE, None)
        os.environ.update(env)
        os.chdir(cwd)
        sys.argv[:] = [_toolkit_command(), *args]
        sys.path[:] = _fresh_import_path(os.environ.get("PYTHONPATH", ""))
        shadowed = _unload_shadowed(sys.path[1 : -len(_interpreter_path()) or None])
        importlib.invalidate_caches()
        with warnings.catch_warnings():
            _default_warning_filters()
            yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
        sys.argv[:], sys.path[:] = saved_argv, saved_path
        _forget_foreign_modules(set(sys.modules) - known)
        sys.modules.update(shadowed)
        importlib.invalidate_caches()


def _fresh_import_path(pythonpath: str) -> list[str]:
    """``sys.path`` of the ``toolkit`` script started with this PYTHONPATH: its own folder,
    the PYTHONPATH entries, then the interpreter's."""
    entries = [os.path.abspath(entry) for entry in pythonpath.split(os.pathsep) if entry]
    script_folder = str(Path(_toolkit_command()).parent)
    return [script_folder, *entries, *_interpreter_path()]


@functools.cache
def _interpreter_path() -> tuple[str, ...]:
    """The import path a new interpreter has without PYTHONPATH, less its first entry."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    shown = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(json.dumps(sys.path[1:]))"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return tuple(json.loads(shown.stdout))


def _unload_shadowed(folders: list[str]) -> dict[str, ModuleType]:
    """Take out of ``sys.modules`` (and return) the loaded modules that a module or package
    in ``folders`` (PYTHONPATH) hides, as a fresh process would import those instead."""
    names = {_module_name(child) for folder in folders for child in _children(folder)}
    taken = {
        name: module
        for name, module in sys.modules.items()
        if name.partition(".")[0] in names and _location(module) is not None
    }
    for name in taken:
        del sys.modules[name]
    return taken


def _children(folder: str) -> list[Path]:
    path = Path(folder)
    return list(path.iterdir()) if path.is_dir() else []


def _module_name(child: Path) -> str:
    return child.name.partition(".")[0] if child.is_file() else child.name


def _default_warning_filters() -> None:
    """Python's own filters, as a process started without -W has them (not pytest's)."""
    warnings.resetwarnings()
    for category in (ResourceWarning, ImportWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")


def _forget_foreign_modules(names: set[str]) -> None:
    """Forget the modules among ``names`` loaded from outside the environment and the project:
    a test's plugin modules, which another test may write again with other contents."""
    homes = {str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, ROOT)}
    for name in names:
        module = sys.modules.get(name)
        where = _location(module) if module is not None else None
        if where is not None and not any(where.startswith(home + os.sep) for home in homes):
            del sys.modules[name]


def _location(module: ModuleType) -> str | None:
    file = getattr(module, "__file__", None)
    if file is None:
        file = next(iter(getattr(module, "__path__", None) or []), None)
    return str(Path(file).resolve()) if file else None


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` and return the path."""
    path.write_text(text, encoding="utf-8")
    return path


def pip_install(source: Path, target: Path) -> Path:
    """Install the distribution at ``source`` into ``target`` (not its dependencies).

    It is built from a copy beside ``target``: pip builds in the source folder (``build/``,
    ``*.egg-info``), and two tests installing one source at once must not share that."""
    copy = target.parent / f"{target.name}-source"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(copy),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return target


class FakeDistribution:
    """Just enough of importlib.metadata.Distribution for entry-point loading."""

    def __init__(self, name: str, version: str, entry_points: dict[str, str]) -> None:
        self.metadata = {"Name": name}
        self.version = version
        self.entry_points = [
            importlib.metadata.EntryPoint(ep_name, value, ENTRY_POINT_GROUP)
            for ep_name, value in entry_points.items()
        ]


def only_distributions(monkeypatch: pytest.MonkeyPatch, *dists: FakeDistribution) -> None:
    """Entry points come from the installed distributions plus ``dists``."""
    real = list(importlib.metadata.distributions())
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [*real, *dists])


def dense_layer(weight: str, bias: str, activation: Any, inputs: int, units: int) -> Any:
    """The standard dense layer ``activation(x @ W + b)`` with its parameters named
    ``weight`` and ``bias``, built without a spec."""
    from toolkit_plugins.layers import Dense

    layer = Dense((inputs,), units, activation)
    layer.names = {"W": weight, "b": bias}
    return layer
