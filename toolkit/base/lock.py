"""An exclusive lock on a run folder, held for the life of a command that writes it.

The lock is ``fcntl.flock`` on a lock file in the folder that holds the holder's process
id. The system releases it when its holder exits, however it exits (a kill -9 included),
so a lock is never left held; the file itself is removed by a holder that releases it, and
one a killed holder left is taken over by the next command. POSIX only.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import RunError, UsageError

__all__ = ["LOCK_NAME", "FolderLock", "held_elsewhere", "locked"]

LOCK_NAME = ".toolkit.lock"
"""The lock file's name in a run folder."""

_ATTEMPTS = 50  # tries to lock a lock file that another holder removes at the same time
_PID_WAIT = 0.2  # seconds to wait for a new holder to write its process id


class FolderLock:
    """The exclusive lock on ``folder``: ``acquire`` takes it or refuses in one line."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._descriptor: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._descriptor is not None

    def acquire(self) -> None:
        """Take the lock, writing this process's id into the lock file.

        Held by another process: a UsageError naming its process id. The folder must exist.
        """
        for _ in range(_ATTEMPTS):
            descriptor = self._open()
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(descriptor)
                os.close(descriptor)
                raise UsageError(_in_use(self.folder, holder)) from None
            except OSError as error:
                os.close(descriptor)
                raise _cannot_lock(self.folder, error) from None
            if self._still_linked(descriptor):
                self._descriptor = descriptor
                self._write_pid()
                return
            os.close(descriptor)  # its holder removed it as we locked it: lock the new one
        raise UsageError(_in_use(self.folder, None))

    def release(self) -> None:
        """Remove the lock file and let the lock go (removed first, while still held, so
        that no other process can hold a lock on a file no longer in the folder)."""
        if self._descriptor is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._descriptor)
        self._descriptor = None

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as error:
            raise _cannot_lock(self.folder, error) from None

    def _still_linked(self, descriptor: int) -> bool:
        """Whether the locked file is still the one under the lock file's name."""
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            return False
        opened = os.fstat(descriptor)
        return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)

    def _write_pid(self) -> None:
        assert self._descriptor is not None
        os.ftruncate(self._descriptor, 0)
        os.pwrite(self._descriptor, f"{os.getpid()}\n".encode(), 0)


@contextlib.contextmanager
def locked(folder: str | os.PathLike[str]) -> Iterator[FolderLock]:
    """Hold the lock on ``folder`` inside the block."""
    lock = FolderLock(folder)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


def held_elsewhere(folder: str | os.PathLike[str]) -> bool:
    """Whether a holder has the lock on ``folder`` now: a look only (no lock file is made,
    none is written, and the lock is free again once this returns)."""
    try:
        descriptor = os.open(Path(folder) / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no lock file: nobody holds it
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(descriptor)
    return False


def _holder(descriptor: int) -> int | None:
    """The process id in a lock file another process holds (None if it is not written)."""
    deadline = time.monotonic() + _PID_WAIT
    while True:
        text = os.pread(descriptor, 32, 0).decode("ascii", errors="replace").strip()
        if text.isdigit():
            return int(text)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def _in_use(folder: Path, holder: int | None) -> str:
    who = f"process {holder}" if holder is not None else "another process"
    return f"{folder} is in use by {who}; wait for it to finish or stop it, then try again"


def _cannot_lock(folder: Path, error: OSError) -> RunError | UsageError:
    reason = error.strerror or str(error)
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UsageError(f"{folder}: cannot lock the folder ({reason}); fix its permissions")
    return RunError(f"{folder}: cannot lock the folder ({reason})")
