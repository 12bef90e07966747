"""A local pool's workers do not outlive their coordinator: after a kill -9 of the process
that made the pool, its worker processes end too (they waited for work forever)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

COORDINATOR = """
import os, sys, time
from plugins.executors import local
pool = local(1)
print(pool.submit(os.getpid).result(), flush=True)
pool.submit(time.sleep, 120)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.process
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_a_kill_9_of_the_pools_process_ends_its_workers() -> None:
    coordinator = subprocess.Popen(
        [sys.executable, "-c", COORDINATOR], stdout=subprocess.PIPE, text=True
    )
    try:
        assert coordinator.stdout is not None
        worker = int(coordinator.stdout.readline())
        assert alive(worker)
    finally:
        coordinator.send_signal(signal.SIGKILL)
        coordinator.wait()
    deadline = time.monotonic() + 10
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    ended = not alive(worker)
    if not ended:
        os.kill(worker, signal.SIGKILL)
    assert ended, "the worker still runs 10 s after its coordinator was killed"
