"""A run's output folder: its spec, metrics, checkpoint, parameters and running state, each
written safely."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..base.errors import RunError, ToolkitNotice, UsageError
from ..base.lock import LOCK_NAME, FolderLock
from ..spec.load import Spec
from .checkpoint import Checkpoint, load_checkpoint
from .inputs import Pin, check_inputs, check_named, pin_inputs

__all__ = ["METRICS_FLUSH_SECONDS", "RunDirectory", "check_output", "write_atomically"]

METRICS_FLUSH_SECONDS = 0.5
"""The longest a logged record waits before it is written to metrics.jsonl."""


class RunDirectory:
    """Writes a run's files into ``path``; a file is whole under its final name or absent.

    ``spec.yaml`` (the resolved spec), ``metrics.jsonl`` (one record per log point),
    ``checkpoint.npz`` (everything needed to continue), ``params.npz`` (the final
    parameters), ``state.npz`` (the final running state, for a network that keeps any,
    such as batch normalization's running mean and variance) and, where matplotlib is
    installed, ``curves.png``. A kill at any
    instant leaves each of them as it was or whole (metrics.jsonl grows by whole lines);
    only temporary files named ``.{file name}.{random}.tmp`` can be left, and resuming
    removes them (those only). A command that writes the folder holds its lock (``locked``).
    """

    SPEC, METRICS, CHECKPOINT, PARAMS, STATE, CURVES, INPUTS = (
        "spec.yaml",
        "metrics.jsonl",
        "checkpoint.npz",
        "params.npz",
        "state.npz",
        "curves.png",
        "inputs.json",
    )
    NAMES = (SPEC, INPUTS, METRICS, CHECKPOINT, PARAMS, STATE, CURVES)
    """Every file of a run; no other command writes over them."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._metrics: IO[bytes] | None = None  # metrics.jsonl, open for appending
        self._pending: list[str] = []  # its lines not yet written
        self._flushed = time.monotonic()
        self._lock = FolderLock(self.path)
        for folder in (self.path, *self.path.parents):
            if folder.exists() and not folder.is_dir():
                raise UsageError(
                    f"output folder {self.path}: {folder} is a file, not a folder; "
                    "choose another path"
                )

    @property
    def holds_run(self) -> bool:
        """Whether a run was started here (any of its files is present)."""
        names = (self.SPEC, self.INPUTS, self.METRICS, self.CHECKPOINT, self.PARAMS, self.STATE)
        return any((self.path / name).exists() for name in names)

    @property
    def written_by_train(self) -> bool:
        """Whether toolkit train wrote this folder: its spec.yaml or checkpoint.npz is here
        (a metrics.jsonl alone may be anyone's)."""
        return any((self.path / name).exists() for name in (self.SPEC, self.CHECKPOINT))

    @contextlib.contextmanager
    def locked(self, *, create: bool = False) -> Iterator[None]:
        """Hold the folder's lock inside the block; another process holding it is a
        one-line UsageError naming its process id.

        With ``create``, a missing folder (and its missing parents) is created first, and
        removed again at the end if nothing was written into it (a command refused before
        it wrote anything).
        """
        created: list[Path] = []
        if create and not self.path.is_dir():
            missing = [folder for folder in (self.path, *self.path.parents) if not folder.exists()]
            try:
                self.path.mkdir(parents=True)
                created = missing
            except FileExistsError:  # another command created it just now: lock it
                pass
            except OSError as error:
                if error.errno == errno.ENAMETOOLONG:  # the command line says so
                    raise
                raise RunError(
                    f"output folder {self.path}: cannot create ({error.strerror})"
                ) from None
        self._lock.acquire()
        try:
            yield
        finally:
            self._lock.release()
            for folder in created:  # the folder first, then its parents
                try:
                    folder.rmdir()
                except OSError:  # not empty: the run's files stay
                    break

    @property
    def has_checkpoint(self) -> bool:
        """Whether the run here saved a checkpoint."""
        return (self.path / self.CHECKPOINT).exists()

    def start(self, spec: Spec) -> None:
        """Create the folder, write the resolved spec and an empty metrics file.

        A folder that already holds a run is refused: nothing is overwritten.
        """
        if self.holds_run and self.has_checkpoint:
            raise UsageError(
                f"output folder {self.path} already holds a run ({self.SPEC}); continue it "
                f"with 'toolkit train --resume {self.path}', or choose another folder"
            )
        if self.holds_run:
            raise UsageError(
                f"output folder {self.path} holds a run that stopped before its first "
                "checkpoint; delete the folder or choose another"
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.write_spec(spec)
            self.write_inputs(spec)
            write_atomically(self.path / self.METRICS, lambda f: None)
        except OSError as error:
            if error.errno == errno.ENAMETOOLONG:  # the user's name: the command line says so
                raise
            raise RunError(f"output folder {self.path}: cannot write ({error.strerror})") from None

    @contextlib.contextmanager
    def claimed(self, spec: Spec) -> Iterator[None]:
        """Hold the lock for a new run of ``spec`` inside the block (the folder created if
        missing, see ``locked``); a folder that already holds a run is refused, saying how
        to continue it: nothing is overwritten."""
        with self.locked(create=True):  # one writer: a second command on the folder is refused
            if self.holds_run:
                self.start(spec)  # refuses
            yield

    def extend(self, spec: Spec) -> None:
        """Record a resumed run's longer ``spec`` (for the next resume and for evaluate);
        ``params.npz`` and ``state.npz`` go, as they no longer hold the final ones."""
        self.write_spec(spec)
        (self.path / self.PARAMS).unlink(missing_ok=True)
        (self.path / self.STATE).unlink(missing_ok=True)

    def write_spec(self, spec: Spec) -> None:
        """Write spec.yaml: the resolved spec the run follows."""
        write_atomically(self.path / self.SPEC, lambda f: f.write(spec.to_yaml().encode()))

    def write_inputs(self, spec: Spec) -> None:
        """Write inputs.json: each file the spec's parts read, with its size and digest."""
        text = json.dumps(pin_inputs(spec.files), indent=2, sort_keys=True) + "\n"
        write_atomically(self.path / self.INPUTS, lambda f: f.write(text.encode()))

    def check_inputs(self) -> None:
        """Refuse (UsageError) if a file the run read is gone or changed since."""
        path = self.path / self.INPUTS
        if path.exists():
            check_inputs(_read_pins(path), self.path)

    def check_named(self, spec: Spec) -> None:
        """Refuse (UsageError) if the run's spec names other files than the run read; a
        run without inputs.json (from before runs recorded their files) gets a notice."""
        path = self.path / self.INPUTS
        if path.exists():
            check_named(_read_pins(path), spec.files, self.path)
        elif spec.files:
            warnings.warn(
                f"{self.path} has no {self.INPUTS} (an older run): cannot check that "
                f"{', '.join(sorted(spec.files.values()))} is what it read",
                ToolkitNotice,
                stacklevel=2,
            )

    def append_metrics(self, record: Mapping[str, Any]) -> None:
        """Add one log point's record to metrics.jsonl.

        Lines are written whole, in one unbuffered write per batch: every
        ``METRICS_FLUSH_SECONDS``, before each checkpoint and at ``close``. A kill can
        lose only lines logged after the last checkpoint, which a resume logs again.
        """
        self._pending.append(json.dumps(dict(record)) + "\n")
        if time.monotonic() - self._flushed >= METRICS_FLUSH_SECONDS:
            self.flush_metrics()

    def flush_metrics(self) -> None:
        """Write the records not yet in metrics.jsonl."""
        if not self._pending:
            return
        lines, self._pending = memoryview("".join(self._pending).encode()), []
        try:
            if self._metrics is None:
                self._metrics = open(self.path / self.METRICS, "ab", buffering=0)  # noqa: SIM115
            while lines:  # one write, unless the system takes fewer bytes than given
                lines = lines[self._metrics.write(lines) :]
        except OSError as error:
            raise _cannot_write(self.path / self.METRICS, error) from None
        self._flushed = time.monotonic()

    def resume_metrics(self, checkpoint: Checkpoint) -> None:
        """Cut metrics.jsonl back to the checkpoint's iteration, for a run resumed from it.

        Lines logged after the checkpoint go; a file that does not hold the checkpoint's
        history (damaged, or missing lines) is written anew from it, keeping the starting
        point (iteration 0) if the file has it. The file is replaced atomically.
        """
        path = self.path / self.METRICS
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        kept = _records_up_to(text, checkpoint.iteration)
        logged = [record for record in kept if record.get("iteration") != 0]
        if logged != checkpoint.history:
            start = [record for record in kept if record.get("iteration") == 0]
            kept = [*start[:1], *checkpoint.history]
        lines = "".join(json.dumps(record) + "\n" for record in kept)
        if lines != text:
            self.close()
            write_atomically(path, lambda f: f.write(lines.encode()))

    def close(self) -> None:
        """Write the records not yet written, and close metrics.jsonl."""
        self.flush_metrics()
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Write checkpoint.npz (replacing the last one only once the new one is whole),
        after every record logged so far is in metrics.jsonl."""
        self.flush_metrics()
        write_atomically(
            self.path / self.CHECKPOINT,
            lambda f: np.savez(f, **dict[str, Any](checkpoint.arrays())),
        )

    def load_checkpoint(self) -> Checkpoint:
        """The last checkpoint; a folder without one is a usage error."""
        path = self.path / self.CHECKPOINT
        if self.holds_run and not path.exists():
            raise UsageError(
                f"{self.path} holds a run that stopped before its first checkpoint: nothing "
                "to resume; delete the folder and train again, or choose another folder"
            )
        if not path.exists():
            raise UsageError(
                f"{self.path} holds no run: nothing to resume; start one with "
                f"'toolkit train SPEC --out {self.path}'"
            )
        return load_checkpoint(path)

    def save_params(
        self, params: Mapping[str, np.ndarray], state: Mapping[str, np.ndarray] | None = None
    ) -> None:
        """Write the parameters to params.npz, and the running state (if any) to state.npz
        before them: where params.npz is, so is the state that goes with it."""
        if state:
            write_atomically(self.path / self.STATE, lambda f: np.savez(f, **dict[str, Any](state)))
        write_atomically(self.path / self.PARAMS, lambda f: np.savez(f, **dict[str, Any](params)))

    def remove_temporary_files(self) -> list[Path]:
        """Delete the temporary files a killed run left behind (``.{run file}.{random}.tmp``,
        as ``write_atomically`` names them, and no other); return them. Only while holding
        the folder's lock, so that no live run's temporary file is among them."""
        if not self._lock.held:
            raise RuntimeError(f"{self.path}: remove temporary files only while holding the lock")
        left = sorted(path for path in self.path.iterdir() if _TEMPORARY.fullmatch(path.name))
        for path in left:
            with contextlib.suppress(OSError):  # not ours to remove: harmless where it is
                path.unlink(missing_ok=True)
        return left

    @property
    def files(self) -> list[Path]:
        """The run's files that exist, in a fixed order."""
        return [self.path / name for name in self.NAMES if (self.path / name).exists()]


_TEMPORARY = re.compile(
    r"\.(?:" + "|".join(map(re.escape, RunDirectory.NAMES)) + r")\.[A-Za-z0-9_]+\.tmp"
)


def check_output(target: Path, *, force: bool, runs: Iterable[Path] = ()) -> None:
    """Refuse to write ``target`` where it is a run's own file, or exists and not ``force``.

    A run's own file is one of ``RunDirectory.NAMES`` (or its lock file) in a folder that
    holds a run, compared by resolved path (so ``RUN/./params.npz`` and symbolic links
    count), or any existing file that is one of the files of the run folders ``runs``
    (hard links count too).
    """
    try:
        resolved = target.resolve()
        folder = RunDirectory(resolved.parent) if resolved.parent.is_dir() else None
    except (OSError, RuntimeError) as error:  # a name too long; a loop of links
        reason = error.strerror if isinstance(error, OSError) else None
        raise UsageError(f"{target}: {reason or error}; give another file name") from None
    own = (*RunDirectory.NAMES, LOCK_NAME)
    if folder is not None and resolved.name in own and folder.holds_run:
        raise UsageError(
            f"{target}: that is the run's own {resolved.name} in {folder.path}; toolkit never "
            "writes over a run's files; give another file name"
        )
    if not os.path.lexists(target):
        return
    for run in runs:
        for name in RunDirectory.NAMES:
            with contextlib.suppress(OSError):
                if os.path.samefile(target, Path(run) / name):
                    raise UsageError(
                        f"{target}: that is the run's own {name} in {run} (a link to it); "
                        "toolkit never writes over a run's files; give another file name"
                    )
    if not force:
        raise _exists(target)


def _read_pins(path: Path) -> dict[str, Pin]:
    """inputs.json's records; a damaged file is a UsageError."""
    try:
        pins = json.loads(path.read_bytes()[: 1 << 20].decode("utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: damaged ({error}); train the run again") from None
    if not isinstance(pins, dict) or not all(_is_pin(pin) for pin in pins.values()):
        raise UsageError(f"{path}: damaged (not a record of files); train the run again")
    return pins


def _is_pin(pin: object) -> bool:
    return (
        isinstance(pin, dict)
        and isinstance(pin.get("path"), str)
        and isinstance(pin.get("sha256"), str)
        and type(pin.get("bytes")) is int
    )


def _records_up_to(text: str, iteration: int) -> list[dict[str, Any]]:
    """The leading whole records of a metrics text, up to ``iteration``."""
    records = []
    for line in text.splitlines(keepends=True):
        try:
            record = json.loads(line) if line.endswith("\n") else None
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("iteration"), int):
            break
        if record["iteration"] > iteration:
            break
        records.append(record)
    return records


def write_atomically(
    target: Path, write: Callable[[IO[bytes]], Any], *, replace: bool = True
) -> None:
    """Write ``target`` through a temporary file in its folder, then rename it: the file
    is whole under its name or as it was. A failure to write is a one-line RunError.

    With ``replace=False`` an existing ``target`` (one that appeared since it was checked)
    is left as it is and refused, a UsageError."""
    try:
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as error:
        raise _cannot_write(target, error) from None
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        if replace:
            os.replace(temporary, target)
        else:
            _move_without_replacing(Path(temporary), target)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _cannot_write(target, error) from None
        raise


def _move_without_replacing(temporary: Path, target: Path) -> None:
    """Give the temporary file the name ``target`` unless that name exists (a hard link then
    an unlink, atomic where renaming over it would not be)."""
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise _exists(target) from None
    except OSError:  # a file system without hard links: check, then rename
        if os.path.lexists(target):
            raise _exists(target) from None
        os.rename(temporary, target)
        return
    temporary.unlink()


def _exists(target: Path) -> UsageError:
    return UsageError(
        f"{target} already exists; give another file name, or add --force to replace it"
    )


def _cannot_write(target: Path, error: OSError) -> Exception:
    if error.errno == errno.ENAMETOOLONG:  # the user's name, not the temporary file's
        return OSError(error.errno, error.strerror, str(target))
    return RunError(
        f"{target}: cannot write ({error.strerror or error}); free some space or fix the "
        "folder's permissions, then continue with 'toolkit train --resume' if it was a run"
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
