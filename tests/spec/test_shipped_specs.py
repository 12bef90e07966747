"""`toolkit specs`: the shipped specs listed with a line each, and one printed to copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SPECS, write
from toolkit.cli import main
from toolkit.spec.load import load_spec, spec_summary

SHIPPED = sorted(path.stem for path in SPECS.glob("*.yaml"))


def first_comment(name: str) -> str:
    """The shipped file's first line, without its ``# ``."""
    first = (SPECS / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# "), first
    return first[2:]


def test_specs_lists_every_shipped_spec_with_its_description(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One line per shipped spec, in name order: its name and its file's first comment line."""
    assert main(["specs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = [line for line in lines if line.split(" ", 1)[0] in SHIPPED]
    assert [line.split()[0] for line in listed] == SHIPPED
    for name, line in zip(SHIPPED, listed, strict=True):
        assert line.endswith("  " + first_comment(name)), line
    assert len({first_comment(name) for name in SHIPPED}) == len(SHIPPED)  # tell them apart
    assert "toolkit specs NAME" in lines[-1]
    assert all(len(line) <= 100 for line in lines), lines


@pytest.mark.parametrize("name", SHIPPED)
def test_specs_name_prints_the_file_as_written(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """`toolkit specs NAME` prints the shipped file, comments and all, to the byte."""
    assert main(["specs", name]) == 0
    assert capsys.readouterr().out == (SPECS / f"{name}.yaml").read_text(encoding="utf-8")
    assert main(["specs", f"specs/{name}.yaml"]) == 0  # as train takes it
    assert capsys.readouterr().out == (SPECS / f"{name}.yaml").read_text(encoding="utf-8")


def test_a_printed_spec_copied_to_a_file_is_the_same_spec(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`toolkit specs two_layer_relu > my.yaml` gives a file that loads as the shipped spec."""
    assert main(["specs", "two_layer_relu"]) == 0
    copy = write(tmp_path / "my.yaml", capsys.readouterr().out)
    assert load_spec(copy).config == load_spec(SPECS / "two_layer_relu.yaml").config
    assert main(["validate", str(copy)]) == 0


@pytest.mark.parametrize(
    ("argument", "suggestion"),
    [("two_layer_rleu", "did you mean 'two_layer_relu'? "), ("nothing_like_it", "")],
)
def test_an_unknown_name_is_one_line_with_a_close_match(
    capsys: pytest.CaptureFixture[str], argument: str, suggestion: str
) -> None:
    """An unknown name: exit 2, one line naming it, the closest name if any, and the list."""
    assert main(["specs", argument]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"error: specs: no shipped spec '{argument}'; {suggestion}"
        f"shipped specs: {', '.join(SHIPPED)}"
    ]


def test_a_file_path_is_not_a_shipped_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`specs` prints shipped specs only, not any file that happens to exist."""
    other = write(tmp_path / "two_layer_relu.yaml", "name: mine\n")
    assert main(["specs", str(other)]) == 2
    assert capsys.readouterr().out == ""


def test_summary_is_the_first_comment_line(tmp_path: Path) -> None:
    """The description skips an editor's schema line; a spec without a leading comment has none."""
    schema = "# yaml-language-server: $schema=spec.schema.json\n"
    assert spec_summary(write(tmp_path / "a.yaml", schema + "#\n# Mine\n# more\nname: a\n")) == (
        "Mine"
    )
    assert spec_summary(write(tmp_path / "b.yaml", "name: b  # not a description\n")) == ""
