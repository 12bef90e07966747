"""A Dask scheduler address that is malformed or reaches no scheduler: one line naming the
address and the fix, exit 2 (bad input, nothing started), not an exception from Dask."""

from __future__ import annotations

import socket

import pytest

from toolkit import UsageError
from toolkit.sweeps.engines import make_executor

pytest.importorskip("distributed")


def closed_port() -> int:
    """A local port no one listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_address_with_no_scheduler_is_a_usage_error_naming_it() -> None:
    import dask

    address = f"tcp://127.0.0.1:{closed_port()}"
    quick = dask.config.set({"distributed.comm.timeouts.connect": "1s"})
    with quick, pytest.raises(UsageError) as raised:
        make_executor("dask", None, {"address": address})
    message = str(raised.value)
    assert raised.value.exit_code == 2
    assert "\n" not in message
    assert message.startswith(f"--address: {address}: ")
    assert "dask scheduler" in message


def test_a_malformed_address_is_a_usage_error_naming_it() -> None:
    with pytest.raises(UsageError) as raised:
        make_executor("dask", None, {"address": "nonsense"})
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("--address: nonsense: ") and "tcp://HOST:PORT" in message
