"""File paths in a spec: read from the spec file's folder, recorded absolute in a run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

import toolkit
from tests.helpers import write
from toolkit.cli import main
from toolkit.registry.kinds import kind_named
from toolkit.registry.parts import Part, as_part

X = np.arange(24, dtype=float).reshape(8, 3)
T = np.array([0, 1, 2, 0, 1, 2, 0, 1])
SPEC = (
    "seed: 1\ndata: {{name: npz, {settings}}}\n"
    "model:\n  layers:\n    - {{units: 3, activation: softmax}}\n"
    "train: {{iterations: 2, batch_size: 4, log_every: 1}}\n"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with data/train.npz and data/test.npz; the current folder elsewhere."""
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    np.savez(folder / "data" / "train.npz", x=X, t=T)
    np.savez(folder / "data" / "test.npz", x=X[:3] + 0.5, t=T[:3])
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    return folder


def test_relative_paths_are_read_from_the_spec_files_folder(project: Path) -> None:
    """From another folder, path and test_path name the files beside the spec, absolute."""
    settings = "path: data/train.npz, test_path: ./data/../data/test.npz"
    spec = toolkit.load_spec(write(project / "spec.yaml", SPEC.format(settings=settings)))
    assert spec.config["data"]["path"] == str(project / "data" / "train.npz")
    assert spec.config["data"]["test_path"] == str(project / "data" / "test.npz")
    data = toolkit.load_data(spec)
    np.testing.assert_array_equal(data.x, X)
    np.testing.assert_array_equal(data.x_test, X[:3] + 0.5)


def test_a_spec_path_given_relative_to_the_current_folder_works_too(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Naming the spec as ../project/spec.yaml changes nothing: its folder is the same."""
    write(project / "spec.yaml", SPEC.format(settings="path: data/train.npz"))
    spec = toolkit.load_spec(Path("..") / "project" / "spec.yaml")
    assert spec.config["data"]["path"] == str(project / "data" / "train.npz")


def test_an_absolute_path_stays_as_it_is(project: Path) -> None:
    absolute = project / "data" / "train.npz"
    other = write(
        project.parent / "elsewhere" / "spec.yaml", SPEC.format(settings=f"path: '{absolute}'")
    )
    assert toolkit.load_spec(other).config["data"]["path"] == str(absolute)


def test_a_mapping_and_an_override_are_read_from_the_current_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spec given as Python data, and a path set by an override, are the user's own: they
    are read from the current folder, as a path typed at a prompt would be."""
    monkeypatch.chdir(project / "data")
    mapping = yaml.safe_load(SPEC.format(settings="path: train.npz"))
    assert toolkit.load_spec(mapping).config["data"]["path"] == str(project / "data" / "train.npz")
    spec_file = write(project / "spec.yaml", SPEC.format(settings="path: data/train.npz"))
    overridden = toolkit.load_spec(spec_file, ["data.test_path=test.npz"])
    assert overridden.config["data"]["path"] == str(project / "data" / "train.npz")
    assert overridden.config["data"]["test_path"] == str(project / "data" / "test.npz")


def test_a_missing_file_names_where_it_was_looked_for(project: Path) -> None:
    """The problem names the absolute path, at data.path's line in the spec, when the data
    is built (loading the spec reads no data file)."""
    spec_file = write(project / "spec.yaml", SPEC.format(settings="path: data/none.npz"))
    spec = toolkit.load_spec(spec_file)
    with pytest.raises(toolkit.SpecError) as caught:
        toolkit.build(spec)
    (problem,) = caught.value.problems
    assert problem.path == "data.path"
    assert str(project / "data" / "none.npz") in problem.message
    assert problem.location is not None and problem.location.line == 2


def test_a_run_folder_finds_its_data_from_anywhere(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """train from one folder, evaluate the run from two others: the same numbers, and the
    run's spec.yaml holds the data's absolute path."""
    write(project / "spec.yaml", SPEC.format(settings="path: data/train.npz"))
    assert main(["train", "../project/spec.yaml", "--out", "../runs/one", "-q"]) == 0
    recorded = yaml.safe_load((tmp_path / "runs" / "one" / "spec.yaml").read_text())
    assert recorded["data"]["path"] == str(project / "data" / "train.npz")
    printed = []
    for folder in (tmp_path, tmp_path / "runs" / "one"):
        monkeypatch.chdir(folder)
        capsys.readouterr()
        assert main(["evaluate", os.path.relpath(tmp_path / "runs" / "one", folder)]) == 0
        printed.append(capsys.readouterr().out)
    assert printed[0] == printed[1] and printed[0].startswith("train: loss ")


def test_part_paths_must_name_the_parts_parameters() -> None:
    """Part(paths=...) naming no parameter of the part is refused when registered."""

    def reader(rng, path="a.npz"):
        """Reads a file."""

    kind = kind_named("dataset")
    assert as_part(Part(reader, paths=("path",)), kind).paths == ("path",)
    with pytest.raises(TypeError, match="'file'"):
        as_part(Part(reader, paths=("file",)), kind)
