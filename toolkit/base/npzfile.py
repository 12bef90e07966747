"""Arrays from an ``.npz`` file, read safely and within bounds.

What ``np.load`` would do with a hostile or damaged file, and what is done here instead:
a name that is not a regular file (a FIFO, ``/dev/zero``, a folder) is refused before
anything is read; the zip directory is at most :data:`MAX_NPZ_DIRECTORY_BYTES`; each
member is parsed from its ``.npy`` header first, and its declared shape and type must
be numbers totalling at most :data:`MAX_NPZ_BYTES` over the arrays read; then exactly the
declared bytes are inflated, never more (so a deflate bomb costs no more than the size
its header declares). Nothing is unpickled. Every refusal is an :class:`NpzError`, one
line naming the file, the member and the fix.
"""

from __future__ import annotations

import errno
import math
import os
import stat
import zipfile
import zlib
from collections.abc import Iterable
from types import TracebackType
from typing import IO, Any

import numpy as np

from .errors import UsageError
from .wording import one_line

__all__ = [
    "MAX_NPZ_BYTES",
    "MAX_NPZ_DIRECTORY_BYTES",
    "NpzError",
    "NpzReader",
    "read_npz",
]

MAX_NPZ_BYTES = 2 * 1024**3
"""The most bytes of array data read from one ``.npz`` file (2 GiB), as the headers declare."""
MAX_NPZ_DIRECTORY_BYTES = 4 * 1024**2
"""The largest zip directory read (4 MiB: tens of thousands of arrays)."""
NUMBERS = "biuf"
"""numpy dtype kinds of real numbers: booleans, integers, floats."""
_SAVE_HINT = "save it with numpy.savez(path, name=array)"
_CHUNK = 2**18  # bytes inflated and copied at a time, as numpy reads
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_UNREADABLE = (
    OSError,
    EOFError,
    ValueError,
    RuntimeError,  # an encrypted member
    NotImplementedError,  # a compression method zipfile lacks
    zipfile.BadZipFile,
    zlib.error,
)


class NpzError(UsageError):
    """An ``.npz`` file that cannot be read safely: ``path: problem; fix`` in one line."""

    def __init__(self, path: str | os.PathLike[str], problem: str, fix: str) -> None:
        self.path = os.fspath(path)
        self.problem = one_line(problem)
        self.fix = fix
        super().__init__(f"{_shortened(one_line(self.path))}: {self.problem}; {fix}")


class NpzReader:
    """An open ``.npz`` file: its array ``names``, and ``read(name)`` for one array.

    Use it as a context manager. ``numbers`` are the dtype kinds accepted (real numbers
    by default); ``save_hint`` and ``path_hint`` end the messages about a file that is not
    an ``.npz`` archive and about a path that names no file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        numbers: str = NUMBERS,
        save_hint: str = _SAVE_HINT,
        path_hint: str = "check the path",
    ) -> None:
        self.path = path
        self.numbers = numbers
        self.save_hint = save_hint
        self._budget = MAX_NPZ_BYTES
        self._file = _open_regular(path, path_hint)
        try:
            self._zip = self._open_zip()
        except BaseException:
            self._file.close()
            raise
        self._members = {_array_name(info.filename): info for info in self._zip.infolist()}

    @property
    def names(self) -> list[str]:
        """The arrays in the file, by the names given to ``numpy.savez``."""
        return list(self._members)

    def read(self, name: str) -> np.ndarray:
        """The array ``name`` (one of ``names``; KeyError if not), its header checked first."""
        info = self._members[name]
        try:
            with self._zip.open(info) as member:
                return self._array(name, info, member)
        except NpzError:
            raise
        except _UNREADABLE as error:
            raise self._error(f"array '{name}' is damaged ({_reason(error)})") from None

    def close(self) -> None:
        """Close the file."""
        self._zip.close()
        self._file.close()

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _error(self, problem: str, fix: str | None = None) -> NpzError:
        return NpzError(self.path, problem, fix or self.save_hint)

    def _open_zip(self) -> zipfile.ZipFile:
        """The zip archive, after checking its signature and the size of its directory."""
        try:
            start = self._file.read(6)
            if start.startswith(b"\x93NUMPY"):
                raise self._error("is not an .npz file (it is an .npy file: one array)")
            if start[:4] not in _ZIP_MAGIC:
                raise self._error("is not an .npz file")
            directory = _directory_bytes(self._file)
            if directory is not None and directory > MAX_NPZ_DIRECTORY_BYTES:
                raise self._error(
                    f"its zip directory is {directory} bytes, over the cap of "
                    f"{_size(MAX_NPZ_DIRECTORY_BYTES)}",
                    "save fewer arrays in one file",
                )
            self._file.seek(0)
            return zipfile.ZipFile(self._file)
        except NpzError:
            raise
        except _UNREADABLE as error:
            raise self._error(f"is not a readable .npz file ({_reason(error)})") from None

    def _array(self, name: str, info: zipfile.ZipInfo, member: IO[bytes]) -> np.ndarray:
        """Read one member: its header, checked; then exactly the bytes it declares."""
        shape, fortran, dtype = self._header(name, member)
        count = math.prod(shape)
        size = count * dtype.itemsize
        if size > self._budget:
            before = "" if size > MAX_NPZ_BYTES else " with the arrays read before it"
            raise self._error(
                f"array '{name}' declares shape {shape} of {dtype} ({size} bytes){before}: over "
                f"the cap of {_cap(MAX_NPZ_BYTES)} read from one .npz file",
                "save smaller arrays, or split them over files",
            )
        if info.file_size < member.tell() + size:
            raise self._error(
                f"array '{name}' is shorter than its header declares ({info.file_size} bytes "
                f"for shape {shape} of {dtype}); the file is damaged",
                "save it again",
            )
        self._budget -= size
        try:
            data = np.empty(count, dtype=dtype)
        except MemoryError:
            raise self._error(
                f"array '{name}' declares shape {shape} of {dtype} ({size} bytes), more memory "
                "than can be had now",
                "free some memory, or save smaller arrays",
            ) from None
        flat = data.view(np.uint8).reshape(-1)
        for start in range(0, size, _CHUNK):
            chunk = member.read(min(_CHUNK, size - start))
            if len(chunk) != min(_CHUNK, size - start):
                raise self._error(
                    f"array '{name}' is cut short; the file is damaged", "save it again"
                )
            flat[start : start + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        if fortran:
            return data.reshape(shape[::-1]).transpose()
        return data.reshape(shape)

    def _header(self, name: str, member: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
        """The shape, order and dtype an ``.npy`` member declares, refused unless numbers."""
        try:
            version = np.lib.format.read_magic(member)
        except ValueError:
            raise self._error(
                f"array '{name}' is not an .npy array (not numpy's format)", self.save_hint
            ) from None
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise self._error(
                f"array '{name}' is in .npy format version {version[0]}.{version[1]}, which is "
                "not read here",
                self.save_hint,
            )
        if any(length < 0 for length in shape):
            raise self._error(
                f"array '{name}' declares shape {shape}; the file is damaged", "save it again"
            )
        if dtype.hasobject:
            raise self._error(
                f"array '{name}' holds Python objects (pickled data), which are refused",
                "save arrays of numbers",
            )
        if dtype.kind not in self.numbers or dtype.subdtype is not None:
            raise self._error(f"array '{name}' holds {dtype} values", "save real numbers")
        return shape, fortran, dtype


def read_npz(
    path: str | os.PathLike[str],
    names: Iterable[str] | None = None,
    *,
    numbers: str = NUMBERS,
    save_hint: str = _SAVE_HINT,
    path_hint: str = "check the path",
) -> dict[str, np.ndarray]:
    """The arrays ``names`` that the ``.npz`` file holds (every array for None), by name.

    Read as :class:`NpzReader` reads them: within the caps, numbers only; raises NpzError.
    """
    with NpzReader(path, numbers=numbers, save_hint=save_hint, path_hint=path_hint) as file:
        wanted = file.names if names is None else [n for n in names if n in file.names]
        return {name: file.read(name) for name in wanted}


def _shortened(path: str, keep: int = 80) -> str:
    """A path as a message shows it: whole, or its two ends around ``...`` when long."""
    return path if len(path) <= 2 * keep + 3 else f"{path[:keep]}...{path[-keep:]}"


def _open_regular(path: str | os.PathLike[str], path_hint: str) -> IO[bytes]:
    """The file at ``path`` opened for reading, if it is a regular file (never blocking)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise NpzError(path, "no such file", path_hint) from None
    except IsADirectoryError:
        raise NpzError(path, "is a folder", "name the .npz file inside it") from None
    except (OSError, ValueError) as error:
        if getattr(error, "errno", None) == errno.ENAMETOOLONG:
            raise NpzError(
                path, "a name in the path is longer than the file system allows", path_hint
            ) from None
        raise NpzError(path, f"cannot be read ({_reason(error)})", path_hint) from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        what = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a pipe or a device)"
        raise NpzError(path, f"is {what}", "name an .npz file")
    if hasattr(os, "set_blocking"):
        os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def _directory_bytes(file: IO[bytes]) -> int | None:
    """The size the zip's end record gives its directory (None where zipfile cannot say)."""
    end_record = getattr(zipfile, "_EndRecData", None)  # zipfile's own reader of that record
    if end_record is None:
        return None
    record = end_record(file)
    if record is None:
        raise zipfile.BadZipFile("no end of the zip directory")
    return int(record[5])  # zipfile._ECD_SIZE


def _array_name(member: str) -> str:
    """The name ``numpy.savez`` was given: the member's name without ``.npy``."""
    return member[: -len(".npy")] if member.endswith(".npy") else member


def _size(size: int) -> str:
    """Bytes in the largest binary unit that keeps a number of at least 1."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def _cap(size: int) -> str:
    """A cap in its largest unit, and exactly."""
    text = _size(size)
    return text if text.endswith(" bytes") else f"{text} ({size} bytes)"


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
