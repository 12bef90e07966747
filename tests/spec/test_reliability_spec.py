"""Specs read within bounds and as YAML 1.2 says: only regular files of at most 1 MiB,
value limits enforced while the YAML is composed, YAML 1.2's core schema for plain
scalars (in files and in ``--set``), steps ``h`` that survive rounding, and user text
escaped wherever it is echoed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import toolkit
import toolkit.cli
from tests.helpers import SPECS, capped_toolkit, write
from toolkit.spec import yamlsource

SIGMOID = SPECS / "two_layer_sigmoid.yaml"
BASE = "data: {name: random, samples: 20, features: 5, classes: 3}\nmodel: {layers: [{units: 3}]}\n"
MINIMAL = {
    "data": {"name": "random", "samples": 20, "features": 5, "classes": 3},
    "model": {"layers": [{"units": 3}]},
}
"""Address space given to a command that might read without end: a regression fails fast."""
MIB = 1048576
"""One mebibyte, 2**20 bytes."""


def problem_lines(source: Any, overrides: Any = None) -> list[str]:
    """The lines of the SpecError that loading ``source`` with ``overrides`` raises."""
    with pytest.raises(toolkit.SpecError) as caught:
        toolkit.load_spec(source, overrides)
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.problems), lines
    return lines


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one ``error:`` line of a command that exited 2."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr[-2000:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    return lines[0]


# -- Only regular files are read -----------------------------------------------------------


NOT_REGULAR = "is not a regular file (a pipe or a device)"


@pytest.mark.parametrize("command", ["validate", "train"])
def test_dev_zero_is_refused_unread(command: str) -> None:
    """`toolkit validate /dev/zero` read until memory ran out (a traceback under a cap):
    now one line, exit 2, before a byte is read."""
    line = error_line(capped_toolkit(command, "/dev/zero"))
    assert line.startswith(f"error: /dev/zero: {NOT_REGULAR}; name a .yaml file"), line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("command", ["validate", "train"])
def test_a_fifo_spec_is_refused_at_once(tmp_path: Path, command: str) -> None:
    """A FIFO named as the spec blocked the command until a writer came (forever)."""
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    line = error_line(capped_toolkit(command, str(fifo)))
    assert line.startswith(f"error: {fifo}: {NOT_REGULAR}"), line


def test_a_folder_is_named_as_one(tmp_path: Path) -> None:
    """A folder given as the spec is said to be a folder."""
    (line,) = problem_lines(tmp_path)
    assert line.startswith(f"{tmp_path}: is a folder, not a spec file"), line


# -- The size cap, checked before parsing ----------------------------------------------------


def padded(size: int) -> str:
    """A valid spec of exactly ``size`` bytes: BASE, then comment lines."""
    text = BASE
    while len(text) < size:
        text += "#" + "x" * min(998, size - len(text) - 2) + "\n"
    assert len(text.encode()) == size
    return text


def test_the_cap_is_one_mebibyte() -> None:
    """The cap the README states: 1 MiB."""
    assert getattr(yamlsource, "MAX_SPEC_BYTES", None) == MIB


def test_a_spec_over_the_cap_is_refused_with_the_cap(tmp_path: Path) -> None:
    """A spec one byte over 1 MiB is refused in one line that states the cap (it used to
    be read and parsed whole, however large); one of exactly 1 MiB is read."""
    at_cap = write(tmp_path / "at_cap.yaml", padded(MIB))
    assert toolkit.load_spec(at_cap).config["data"]["samples"] == 20
    over = write(tmp_path / "over.yaml", padded(MIB + 1))
    (line,) = problem_lines(over)
    assert line.startswith("the spec is larger than 1 MiB (1048576 bytes)"), line
    assert f"({over})" in line


def test_an_override_over_the_cap_is_refused() -> None:
    """A --set value of more than 1 MiB of text is held to the same cap."""
    (line,) = problem_lines(SIGMOID, [f"name={'a' * (MIB + 1)}"])
    assert "the spec is larger than 1 MiB (1048576 bytes)" in line


# -- Value limits, enforced while composing -------------------------------------------------


def test_too_many_values_stop_the_reading_where_the_limit_is_passed(tmp_path: Path) -> None:
    """20,000 numbers followed by a syntax error: the limit answers first (the whole text
    was composed before, so the error at its end was what was reported), and the message
    blames no alias, since there is none."""
    numbers = "x: [" + "0, " * 20_000 + "0\n"  # no closing bracket: malformed at the end
    path = write(tmp_path / "spec.yaml", BASE + numbers)
    (line,) = problem_lines(path)
    assert line.startswith("the spec is too large: more than 10000 values"), line
    assert f"({path} line 3, column" in line
    assert "alias" not in line


def test_alias_references_count_as_they_are_composed(tmp_path: Path) -> None:
    """20,000 references to one anchor, then a syntax error: each reference is a value,
    so reading stops at the limit instead of composing them all first."""
    aliases = "a: &a 1\nx: [" + "*a, " * 20_000 + "*a\n"  # no closing bracket
    path = write(tmp_path / "spec.yaml", BASE + aliases)
    (line,) = problem_lines(path)
    assert line.startswith("the spec is too large: more than 10000 values"), line


def test_plain_deep_nesting_blames_no_alias(tmp_path: Path) -> None:
    """Lists nested 60 deep, no alias in sight: said to be nested too deep, not an alias."""
    path = write(tmp_path / "spec.yaml", BASE + "name: " + "[" * 60 + "]" * 60 + "\n")
    (line,) = problem_lines(path)
    assert line.startswith("the spec is too large: nested more than 50 deep"), line
    assert "alias" not in line


def test_an_alias_bomb_is_blamed_on_aliases(tmp_path: Path) -> None:
    """Aliases that expand to 2**40 values are still refused, and said to be aliases."""
    bomb = "".join(f"b{i}: &b{i} [*b{i - 1}, *b{i - 1}]\n" for i in range(1, 40))
    path = write(tmp_path / "spec.yaml", "b0: &b0 [x, x]\n" + bomb)
    (line,) = problem_lines(path)
    assert line.startswith("the spec is too large: its aliases expand to more than 10000"), line


def test_a_large_mapping_in_python_is_not_said_to_hold_itself() -> None:
    """A Python spec of 20,000 values is too large; the hint no longer says it holds itself."""
    (line,) = problem_lines({**MINIMAL, "train": {f"k{i}": i for i in range(20_000)}})
    assert "the spec is too large: more than 10000 values" in line, line
    assert "holds itself" not in line


# -- YAML 1.2 scalars ------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [("0o17", 15), ("0x1F", 31), ("17", 17)])
def test_whole_numbers_are_read_as_yaml_1_2_writes_them(
    tmp_path: Path, text: str, value: int
) -> None:
    """0o17 is octal 15 (text under YAML 1.1), 0x1F is 31: in a file and through --set."""
    path = write(tmp_path / "spec.yaml", BASE + f"seed: {text}\n")
    assert toolkit.load_spec(path).config["seed"] == value
    assert toolkit.load_spec(SIGMOID, [f"seed={text}"]).config["seed"] == value


@pytest.mark.parametrize("text", ["1:30", "190:20:30", "1_000", "="])
def test_yaml_1_1_forms_are_text(tmp_path: Path, text: str) -> None:
    """`1:30` was read as 90 (YAML 1.1's base 60), `1_000` as 1000 and `=` as a tag that
    was refused: text in YAML 1.2, in a file and through --set."""
    path = write(tmp_path / "spec.yaml", BASE + f"name: {text}\n")
    assert toolkit.load_spec(path).config["name"] == text
    assert toolkit.load_spec(SIGMOID, [f"name={text}"]).config["name"] == text


def test_a_base_60_number_is_not_a_seed(tmp_path: Path) -> None:
    """`seed: 1:30` was seed 90; now it is text, and a seed must be a whole number."""
    path = write(tmp_path / "spec.yaml", BASE + "seed: 1:30\n")
    (line,) = problem_lines(path)
    assert line.startswith("seed: expected a whole number, got text '1:30'"), line


def test_a_leading_zero_is_refused_not_guessed(tmp_path: Path) -> None:
    """`seed: 017` was read as octal 15 (YAML 1.1); YAML 1.2 would say 17. Refused in a
    located line that says both readings and how to write each."""
    path = write(tmp_path / "spec.yaml", BASE + "seed: 017\n")
    (line,) = problem_lines(path)
    assert line == (
        "seed: '017' has a leading zero, so it is ambiguous (17 in YAML 1.2, octal 15 in "
        f"YAML 1.1) ({path} line 3, column 7); write 17, or 0o17 for octal, or put it in "
        "quotes to make it text"
    )


def test_a_leading_zero_in_an_override_is_refused() -> None:
    """`--set seed=017` is refused the same way, naming the override."""
    (line,) = problem_lines(SIGMOID, ["seed=017"])
    assert line.startswith("seed: '017' has a leading zero, so it is ambiguous"), line
    assert "(--set seed=017)" in line


@pytest.mark.parametrize("name", ["0o17", "1e5", "+.5"])
def test_the_resolved_spec_reads_back_the_same(name: str) -> None:
    """A name that YAML 1.2 (or 1.1) would read as a number is quoted in the resolved
    spec (a run's spec.yaml), so it reads back as the same text."""
    spec = toolkit.load_spec({**MINIMAL, "name": name})
    reread = write_and_load(spec.to_yaml())
    assert reread.config["name"] == name


def write_and_load(text: str) -> toolkit.Spec:
    """The spec ``text`` holds, loaded from a mapping parsed by the toolkit's own reader."""
    tree, _, problems = yamlsource.parse_yaml(text, "spec.yaml")
    assert not problems, problems
    return toolkit.load_spec(tree)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_plot_titles_do_not_read_a_fifo_spec(tmp_path: Path) -> None:
    """`toolkit plot` titles a figure with the run's name from its spec.yaml; a FIFO there
    blocked it: now the folder's name is used at once."""
    os.mkfifo(tmp_path / "spec.yaml")
    code = (
        "import sys, pathlib, toolkit.runs.plot as p; "
        "print(p._spec_name(pathlib.Path(sys.argv[1])))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.stdout == f"{tmp_path.name}\n", result


# -- A step h that rounding would erase ------------------------------------------------------


@pytest.mark.parametrize("estimator", ["central_difference", "central_difference_loop"])
@pytest.mark.parametrize("h", ["1e-320", "1e-17", "1.1e-16"])
def test_a_real_step_lost_in_rounding_is_refused(estimator: str, h: str) -> None:
    """`gradient.h: 1e-320` was accepted and every difference was 0 (1.0 + h == 1.0 in
    float64, and so for any parameter of size 1 or more): refused, with the reason."""
    (line,) = problem_lines(SIGMOID, [f"gradient={estimator}", f"gradient.h={h}"])
    assert line.startswith(f"gradient.h: gradient estimator '{estimator}': 1.0 + h == 1.0"), line
    assert "lost in rounding" in line


def test_the_smallest_step_that_survives_rounding_is_accepted() -> None:
    """2**-52 (machine epsilon): 1.0 + h is the next float after 1.0, so it is accepted."""
    spec = toolkit.load_spec(SIGMOID, [f"gradient.h={2.0**-52!r}"])
    assert spec.config["gradient"]["h"] == 2.0**-52


@pytest.mark.parametrize("setting", ["gradient.h=1e300", "gradient.h=1.5"])
def test_a_step_over_one_is_refused(setting: str) -> None:
    """`gradient.h: 1e300` gave a difference quotient that is no derivative: refused."""
    (line,) = problem_lines(SIGMOID, [setting])
    assert "gradient.h: gradient estimator 'central_difference': must be at most 1" in line


def test_forward_difference_and_spsa_are_held_to_the_same_rule() -> None:
    """forward_difference's h and spsa's c are real steps too."""
    (line,) = problem_lines(SIGMOID, ["gradient=forward_difference", "gradient.h=1e-320"])
    assert "1.0 + h == 1.0" in line
    (line,) = problem_lines(SIGMOID, ["gradient=spsa", "gradient.c=1e-17"])
    assert line.startswith("gradient.c: gradient estimator 'spsa': 1.0 + c == 1.0"), line


def test_a_subnormal_complex_step_is_refused() -> None:
    """complex_step adds h to the imaginary part, so 1e-20 (its default) is fine; a
    subnormal h (below 2.2250738585072014e-308) carries too few digits."""
    assert toolkit.load_spec(SIGMOID, ["gradient=complex_step"]).config["gradient"]["h"] == 1e-20
    (line,) = problem_lines(SIGMOID, ["gradient=complex_step", "gradient.h=1e-320"])
    assert "h = 1e-320 is subnormal" in line


def test_validate_refuses_the_step_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """`toolkit validate SPEC --set gradient.h=1e-320` is exit 2 and one located line."""
    assert toolkit.cli.main(["validate", str(SIGMOID), "--set", "gradient.h=1e-320"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: gradient.h: "), lines
    assert lines[0].endswith("(--set gradient.h=1e-320)"), lines


# -- User text escaped wherever it is echoed -------------------------------------------------


RAW_NAME = "a\nb\x00c\x1b[31m"
SHOWN_NAME = "a\\nb\\x00c\\x1b[31m"  # as Python's repr escapes it, quotes aside
CONTROL = [chr(code) for code in range(32) if chr(code) != "\n"]


def named_spec(tmp_path: Path) -> Path:
    """two_layer_sigmoid, 2 iterations, named RAW_NAME (written as YAML escapes)."""
    text = SIGMOID.read_text(encoding="utf-8").replace(
        "name: two_layer_sigmoid", 'name: "a\\nb\\0c\\e[31m"'
    )
    text = text.replace("iterations: 300", "iterations: 2")
    text = text.replace("log_every: 100", "log_every: 1")
    path = write(tmp_path / "named.yaml", text)
    assert toolkit.load_spec(path).name == RAW_NAME
    return path


def assert_escaped(text: str) -> None:
    """No control character (a NUL, an escape) in ``text``, and no line break in the name."""
    assert not any(char in text for char in CONTROL), repr(text)
    assert "a\nb" not in text, text


@pytest.mark.parametrize(
    ("command", "heading"),
    [
        (["validate"], f"spec {SHOWN_NAME} ("),
        (["train", "--quiet"], f"training {SHOWN_NAME}: 2 layers, 2 iterations"),
        (["gradcheck"], f"gradcheck {SHOWN_NAME}: one batch"),
    ],
)
def test_the_spec_name_is_printed_escaped(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    heading: str,
) -> None:
    """`name: "a\\nb\\0c"` was printed raw: a line break, a NUL and a terminal escape
    reached the output. Now they are escaped, as Python writes them."""
    monkeypatch.chdir(tmp_path)
    spec = named_spec(tmp_path)
    assert toolkit.cli.main([command[0], str(spec), *command[1:]]) == 0
    captured = capsys.readouterr()
    assert heading in captured.out.splitlines()[0], captured.out
    assert_escaped(captured.out + captured.err)


PLUGIN = """
import numpy as np
from toolkit import Part, hookimpl


def broken(x):
    raise ValueError("no\\nway")


@hookimpl
def toolkit_activations():
    return {"ev\\nil\\x00": Part(broken, derivative=lambda x: np.ones_like(x))}
"""


def test_a_part_name_from_a_plugin_is_listed_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin's part named with a line break and a NUL: `toolkit plugins` listed it raw,
    breaking its table; a spec using it showed it raw in validate's table."""
    write(tmp_path / "escaping_parts.py", PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert toolkit.cli.main(["plugins", "-p", "escaping_parts"]) == 0
    listed = capsys.readouterr().out
    assert "  ev\\nil\\x00  " in listed
    assert_escaped(listed)
    using = ["-p", "escaping_parts", "--set", 'model.layers.0.activation="ev\\nil\\0"']
    assert toolkit.cli.main(["validate", str(SIGMOID), *using]) == 0
    shown = capsys.readouterr().out
    assert "model.layers[0].activation  ev\\nil\\x00  " in shown, shown
    assert not any(char in shown for char in CONTROL)


def test_a_run_failure_with_a_line_break_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part that fails during a run with a line break in its error: one `error:` line,
    exit 1, not two."""
    write(tmp_path / "failing_parts.py", PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    using = ["-p", "failing_parts", "--set", 'model.layers.0.activation="ev\\nil\\0"']
    assert toolkit.cli.main(["train", str(SIGMOID), "--quiet", *using]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "no\\nway" in lines[0], lines
    assert not any(char in lines[0] for char in CONTROL)


@pytest.mark.parametrize(
    ("override", "written"),
    [("train.iterations=1_000", "1000"), ("optimizer.learning_rate=1_0.5", "10.5")],
)
def test_a_number_grouped_with_underscores_is_text_and_the_message_says_how_to_write_it(
    override: str, written: str
) -> None:
    with pytest.raises(toolkit.SpecError) as refused:
        toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", [override])
    message = str(refused.value)
    assert "got text" in message
    assert f"write {written})" in message


def test_text_with_underscores_that_is_no_number_gets_no_such_note() -> None:
    with pytest.raises(toolkit.SpecError) as refused:
        toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", ["train.iterations=a_b"])
    assert "got text 'a_b'" in str(refused.value)
    assert "grouped" not in str(refused.value)
