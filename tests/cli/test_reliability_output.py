"""Every failure is one line with the right exit code: names the terminal can't show, path
names too long, a reader that goes away, a full device, sizes beyond memory, and Ctrl-C
while the command is still loading."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import SPECS, _toolkit_command, call_toolkit, memory_cap, write
from toolkit import load_spec, train
from toolkit.base.errors import RunError, UsageError
from toolkit.cli import main
from toolkit.cli import train as cli

LONG = "a" * 300
"""A file name over the 255 bytes Linux file systems allow in one name."""

TINY = """\
name: NAME
data: {name: random, samples: 12, features: 4, classes: 3}
model:
  layers:
    - {units: 5, activation: tanh}
    - {units: 3, activation: softmax}
gradient: backprop
train: {iterations: 4, batch_size: 3, log_every: 2}
"""


def environment() -> dict[str, str]:
    """The test's environment, output block-buffered as Python's is by default (so what is
    printed last is written as Python exits)."""
    dropped = ("TOOLKIT_DEBUG", "PYTHONUNBUFFERED")
    return {key: value for key, value in os.environ.items() if key not in dropped}


def toolkit(*args: str, cwd: Path, **options) -> subprocess.CompletedProcess[str]:
    """The real command with a timeout and a memory cap."""
    return subprocess.run(
        [_toolkit_command(), *args],
        cwd=cwd,
        env=environment(),
        capture_output="stdout" not in options,
        text=True,
        timeout=120,
        preexec_fn=memory_cap(2 << 30),
        **options,
    )


def test_a_name_with_a_lone_surrogate_is_printed_escaped(tmp_path: Path) -> None:
    """``name: "\\ud800"`` used to end the run with a UnicodeEncodeError as the header was
    printed; the name is shown escaped and the run completes."""
    write(tmp_path / "spec.yaml", TINY.replace("NAME", '"\\ud800"'))
    result = call_toolkit("train", "spec.yaml", "--out", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("training \\ud800: 2 layers")
    assert result.stderr == ""  # curves.png drawn too, its title escaped
    assert (tmp_path / "run" / "params.npz").is_file()


def test_a_surrogate_through_set_is_printed_escaped(tmp_path: Path) -> None:
    result = call_toolkit("validate", "two_layer_relu", "--set", 'name="x\\udcff"', cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("spec x\\udcff (")


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("error: ")
    return line


@pytest.fixture
def a_run(tmp_path: Path) -> Path:
    """A finished run folder of the tiny spec."""
    spec = write(tmp_path / "tiny.yaml", TINY.replace("NAME", "tiny"))
    assert main(["train", str(spec), "--out", str(tmp_path / "run"), "-q"]) == 0
    return tmp_path / "run"


@pytest.mark.parametrize(
    "command",
    [
        ["train", "tiny.yaml", "--out", LONG],
        ["train", "tiny.yaml", "--out", f"new/{LONG}/run"],
        ["train", "--resume", LONG],
        ["evaluate", LONG],
        ["evaluate", "run", "--data", f"{LONG}.npz"],
        ["predict", "run", "--input", f"{LONG}.npz"],
        ["plot", "run", "--out", f"{LONG}.png"],
        ["plot", LONG],
    ],
    ids=lambda command: " ".join(word if word != LONG else "LONG" for word in command)[:40],
)
def test_a_path_name_too_long_is_one_line_exit_2(
    command: list[str], a_run: Path, monkeypatch, capsys
) -> None:
    """ENAMETOOLONG used to be a traceback (exit 1); it is one line naming the path."""
    monkeypatch.chdir(a_run.parent)
    capsys.readouterr()
    assert main(command) == 2
    line = one_error(capsys)
    assert "aaaaaaaaaa" in line and len(line) < 300  # the path, elided
    assert "longer than the file system allows" in line or "too long" in line


def test_a_spec_path_too_long_is_one_line_exit_2(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["validate", f"{LONG}.yaml"]) == 2
    assert "File name too long" in one_error(capsys)


def close_early(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [_toolkit_command(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
        preexec_fn=memory_cap(2 << 30),
    )
    assert process.stdout is not None
    return process


@pytest.mark.parametrize("command", [["plugins"], ["specs"], ["specs", "two_layer_relu"]])
def test_a_reader_gone_before_the_output_is_a_quiet_exit(command: list[str]) -> None:
    """``toolkit specs | true``: short output is written as Python exits, into a closed
    pipe; that used to print "Exception ignored ... BrokenPipeError" and exit 120."""
    process = close_early(*command)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before the command has loaded what it needs to write
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 1
    assert stderr == ""


def test_a_reader_gone_mid_run_is_a_quiet_exit(tmp_path: Path) -> None:
    """``toolkit train | head -1``: the progress lines meet a closed pipe mid-run."""
    write(tmp_path / "tiny.yaml", TINY.replace("NAME", "tiny"))
    process = close_early(
        "train",
        str(tmp_path / "tiny.yaml"),
        "--set",
        "train.iterations=3000",
        "--set",
        "train.log_every=1",  # 3000 lines: more than a pipe holds, so the writer must wait
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith("training tiny")
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 1
    assert stderr == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", [["plugins"], ["specs"], ["train", "tiny.yaml"]])
def test_a_full_device_on_standard_output_is_one_line_exit_1(
    command: list[str], tmp_path: Path
) -> None:
    """``toolkit plugins > /dev/full`` used to be a traceback."""
    write(tmp_path / "tiny.yaml", TINY.replace("NAME", "tiny"))
    with open("/dev/full", "w") as full:
        result = toolkit(*command, cwd=tmp_path, stdout=full, stderr=subprocess.PIPE)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: cannot write the output: {os.strerror(errno.ENOSPC)}"
    ]


def test_a_gradcheck_batch_beyond_memory_is_exit_2(tmp_path: Path) -> None:
    """``gradcheck SPEC --batch 1000000000000``: the size came from the command line."""
    result = toolkit("gradcheck", "two_layer_relu", "--batch", "1000000000000", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: gradcheck --batch 1000000000000: ")
    assert "does not fit in memory" in line and "give a smaller --batch" in line


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("train.batch_size=1000000000000", "lower train.batch_size (now 1000000000000)"),
        ("data.samples=1000000000000", "data: dataset 'random' ran out of memory"),
        ("model.layers[0].units=1000000000", "model.layers[0].init: initializer"),
    ],
)
def test_spec_sizes_beyond_memory_are_exit_2(setting: str, named: str, tmp_path: Path) -> None:
    """Sizes the spec asks for that no memory holds: bad input, said in one line."""
    result = toolkit(
        "train", str(SPECS / "two_layer_relu.yaml"), "-q", "--set", setting, cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert named in line and "Traceback" not in result.stderr


def test_out_of_memory_later_in_a_run_is_exit_1(plugin_folder: Path) -> None:
    """The first iterations fitted: the machine ran short, not the spec (exit 1)."""
    write(
        plugin_folder / "hungry.py",
        "import numpy as np\n"
        "from toolkit import Part\n"
        "calls = []\n"
        "def hungry(x):\n"
        "    calls.append(1)\n"
        "    if len(calls) > 6:\n"
        "        raise MemoryError('Unable to allocate 1.00 TiB')\n"
        "    return np.tanh(x)\n"
        "def toolkit_activations():\n"
        "    return {'hungry': Part(hungry, derivative=lambda x: 1 - np.tanh(x) ** 2)}\n",
    )
    spec = write(
        plugin_folder / "spec.yaml",
        "plugins: [hungry]\n" + TINY.replace("NAME", "tiny"),
    )
    spec_text = spec.read_text().replace("activation: tanh", "activation: hungry")
    with pytest.raises(RunError) as raised:
        train(load_spec(write(spec, spec_text)))
    assert not isinstance(raised.value, UsageError)
    assert "out of memory (Unable to allocate 1.00 TiB)" in str(raised.value)
    assert "or free memory" in str(raised.value)


def test_any_other_memory_error_is_one_line_exit_1(monkeypatch, capsys) -> None:
    def exhausted(*_: object, **__: object) -> None:
        raise MemoryError("Unable to allocate 3.00 TiB")

    monkeypatch.setattr(cli, "train_in_folder", exhausted)
    assert main(["train", "-q"]) == 1
    line = one_error(capsys)
    assert line.startswith("error: out of memory (Unable to allocate 3.00 TiB); make the sizes")


def loading(pid: int) -> bool:
    """Whether the process has begun loading numpy: it is importing the toolkit."""
    try:
        return "numpy" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
def test_ctrl_c_while_the_command_loads_is_quiet_exit_130(tmp_path: Path) -> None:
    """SIGINT while ``toolkit`` imports numpy, and at a few moments after: never a
    traceback; exit 130 with one line, or the command's own result if it was done."""
    interrupted = 0
    for delay in (0.0, 0.0, 0.01, 0.03, 0.06, 0.1, 0.2):
        process = subprocess.Popen(
            [_toolkit_command(), "validate", "two_layer_relu"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(),
        )
        deadline = time.monotonic() + 60
        while not loading(process.pid) and process.poll() is None:
            assert time.monotonic() < deadline, "the command never loaded numpy"
            time.sleep(0.0005)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
        assert "Traceback" not in stderr, (delay, stderr)
        if process.returncode == 130:
            interrupted += 1
            assert stderr.splitlines() == ["error: interrupted"]
        else:  # done before the signal came: its own result (or ended by it as it exited)
            assert process.returncode in (0, -signal.SIGINT), (delay, stderr)
            assert process.returncode != 0 or stdout.rstrip().endswith("valid")
    assert interrupted >= 2  # the first two were sent while numpy was loading


def test_the_command_entry_point_imports_nothing_heavy() -> None:
    """What the ``toolkit`` script imports before it can catch Ctrl-C: not numpy, nor the
    toolkit."""
    code = (
        "import sys, toolkit_entry; "
        "print(sorted(m for m in ('numpy', 'toolkit', 'yaml', 'pluggy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr
