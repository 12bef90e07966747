"""``load_spec(path, text=...)``: a spec's kept text read in place of its file, with the
file's name in messages and its folder for what the spec names relative to it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import toolkit
from tests.helpers import SPECS, write

TEXT = (SPECS / "two_layer_teacher.yaml").read_text()


def test_the_text_is_read_and_the_file_is_not(tmp_path: Path) -> None:
    path = write(tmp_path / "spec.yaml", TEXT.replace("seed: 42", "seed: 7"))
    spec = toolkit.load_spec(path, text=TEXT)
    assert spec.config["seed"] == 42
    assert spec.name == "two_layer_teacher"  # the spec's own name: key
    gone = tmp_path / "gone.yaml"
    assert toolkit.load_spec(gone, ["seed=3"], text=TEXT).config["seed"] == 3


def test_problems_name_the_file_and_its_line(tmp_path: Path) -> None:
    path = tmp_path / "kept.yaml"
    with pytest.raises(toolkit.SpecError) as raised:
        toolkit.load_spec(path, text=TEXT.replace("seed: 42", "seed: -1"))
    (problem,) = raised.value.problems
    assert problem.location == toolkit.Location(str(path), 7, 7)


def test_plugin_modules_are_looked_up_beside_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    write(folder / "tp_beside_kept.py", "def toolkit_activations():\n    return {}\n")
    text = TEXT.replace("rng: default", "rng: default\nplugins: [tp_beside_kept]")
    try:
        spec = toolkit.load_spec(folder / "spec.yaml", text=text)
        assert "tp_beside_kept" in spec.config["plugins"]
    finally:
        sys.modules.pop("tp_beside_kept", None)
