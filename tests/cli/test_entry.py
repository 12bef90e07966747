"""The ``toolkit`` script's entry function: Ctrl-C while the toolkit loads is one line, 130."""

from __future__ import annotations

import signal
import sys
import types
import weakref
from collections.abc import Callable

import pytest

import toolkit_entry


def loading_fails(error: ImportError, *, interrupted: bool) -> types.ModuleType:
    """A ``toolkit.cli`` whose loading fails with ``error``, after a Ctrl-C if
    ``interrupted``, as numpy's does when Ctrl-C lands inside its C import of datetime."""

    def __getattr__(name: str) -> object:
        if interrupted:
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                raise error from None
        raise error

    return fake_cli(__getattr__)


def fake_cli(getattr_: Callable[[str], object]) -> types.ModuleType:
    """A ``toolkit.cli`` module whose every attribute comes from ``getattr_``."""
    module = types.ModuleType("toolkit.cli")
    module.__getattr__ = getattr_  # type: ignore[method-assign]
    return module


def test_ctrl_c_inside_an_extensions_import_is_quiet_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The interrupt comes out as the extension's ImportError: still one line and 130."""
    error = ImportError('PyCapsule_Import could not import module "datetime"')
    monkeypatch.setitem(sys.modules, "toolkit.cli", loading_fails(error, interrupted=True))
    handler = signal.getsignal(signal.SIGINT)
    assert toolkit_entry.main() == toolkit_entry.INTERRUPTED == 130
    assert capsys.readouterr().err == "error: interrupted\n"
    assert signal.getsignal(signal.SIGINT) is handler


def test_an_import_error_without_ctrl_c_is_not_taken_for_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A toolkit that can't be imported, with no interrupt, is that error, not an exit 130."""
    error = ImportError("broken install")
    monkeypatch.setitem(sys.modules, "toolkit.cli", loading_fails(error, interrupted=False))
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(ImportError, match="broken install"):
        toolkit_entry.main()
    assert signal.getsignal(signal.SIGINT) is handler


class Lock:
    """Something a weak reference can point at."""


def loading_runs_a_callback_when_interrupted() -> types.ModuleType:
    """A ``toolkit.cli`` whose loading runs a weakref callback (as the import system's
    module locks do) during which Ctrl-C arrives: the KeyboardInterrupt raised there
    cannot propagate, and Python would print it as 'Exception ignored in ...'."""

    def __getattr__(name: str) -> object:
        def callback(_: object) -> None:
            signal.raise_signal(signal.SIGINT)

        lock = Lock()
        reference = weakref.ref(lock, callback)
        del lock  # the callback runs here
        assert reference() is None
        return lambda: 0

    return fake_cli(__getattr__)


def test_ctrl_c_inside_a_callback_while_loading_is_quiet_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No 'Exception ignored' traceback, and not the command's own exit 0: one line, 130."""
    monkeypatch.setitem(sys.modules, "toolkit.cli", loading_runs_a_callback_when_interrupted())
    hook = sys.unraisablehook
    assert toolkit_entry.main() == 130
    assert capsys.readouterr().err == "error: interrupted\n"
    assert sys.unraisablehook is hook
