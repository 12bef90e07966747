"""Every problem in a spec is one line on stderr with key path, file location and a fix; exit 2.

Specs are written into ``tmp_path`` as small edits of the shipped ``two_layer_sigmoid.yaml``;
expected lines and columns are computed from the text written, never copied from the tool.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import SPECS, RunCli, write
from toolkit.cli import main

SHIPPED = (SPECS / "two_layer_sigmoid.yaml").read_text(encoding="utf-8")
SPEC_NAME = "spec.yaml"
RUN_FILES = ("spec.yaml", "metrics.jsonl", "params.npz")


def edit(old: str, new: str, text: str = SHIPPED) -> str:
    """Replace the single occurrence of ``old`` in ``text`` with ``new``."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the spec"
    return text.replace(old, new)


def position(text: str, token: str, after: str = "") -> tuple[int, int]:
    """1-based line and column of ``token``, searched from the single occurrence of ``after``."""
    start = 0
    if after:
        assert text.count(after) == 1, f"{after!r} occurs {text.count(after)} times"
        start = text.index(after)
    index = text.index(token, start)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def where(text: str, token: str, after: str = "", source: str = SPEC_NAME) -> str:
    """The location text the toolkit should print for ``token``: ``spec.yaml line L, column C``."""
    line, column = position(text, token, after)
    return f"{source} line {line}, column {column}"


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The non-blank lines on stderr."""
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_refused(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Exit 2, no traceback, no success output, every stderr line an error; returns the lines."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert "valid" not in result.stdout.split(), result.stdout
    assert "done:" not in result.stdout and "wrote" not in result.stdout, result.stdout
    lines = error_lines(result)
    assert lines, "no error message on stderr"
    assert all(line.startswith("error: ") for line in lines), lines
    return lines


def line_for(lines: list[str], *paths: str) -> str:
    """The single problem line about key path ``paths[0]`` (or one of the alternative paths)."""
    found = [line for line in lines if line.startswith(tuple(f"error: {p}: " for p in paths))]
    assert len(found) == 1, f"expected one line about {' or '.join(paths)}, got {lines}"
    return found[0]


def assert_one_located_problem(run_cli, tmp_path, old, new, path, token, message):
    """Editing ``old`` to ``new`` gives one problem at ``path``, placed at ``token``."""
    text = edit(old, new)
    lines = validate(run_cli, tmp_path, text)
    assert len(lines) == 1, lines
    line = line_for(lines, path)
    assert message in line
    assert f"({where(text, token, after=new)})" in line


def validate(run_cli: RunCli, tmp_path: Path, text: str, *extra: str) -> list[str]:
    """Write ``text`` as spec.yaml, run ``toolkit validate spec.yaml *extra``; must be refused."""
    write(tmp_path / SPEC_NAME, text)
    result = run_cli("validate", SPEC_NAME, *extra)
    lines = assert_refused(result)
    assert result.stdout == "", result.stdout
    return lines


# -- the example from the issue, malformed files, missing files ------------------------------


def test_unknown_activation_has_path_location_and_close_match(run_cli, tmp_path):
    """A misspelled activation names its key path, line, column, the close match and the list."""
    text = edit("activation: sigmoid", "activation: sigmiod")
    lines = validate(run_cli, tmp_path, text)
    assert len(lines) == 1, lines
    line = line_for(lines, "model.layers[0].activation")
    assert "unknown activation 'sigmiod'" in line
    assert f"({where(text, 'sigmiod')})" in line
    assert "did you mean 'sigmoid'?" in line
    assert "available: identity, leaky_relu, relu" in line


@pytest.mark.parametrize(
    ("old", "new", "token", "after"),
    [
        ("loss: cross_entropy", "loss: cross_entropy: x", ": x", "loss: cross_entropy"),
        ("loss: cross_entropy", "\tloss: cross_entropy", "\t", ""),
    ],
    ids=["second-colon", "tab-indent"],
)
def test_malformed_yaml_gives_line_and_column(run_cli, tmp_path, old, new, token, after):
    """Malformed YAML is one line naming the file, line and column, with a hint."""
    text = edit(old, new)
    lines = validate(run_cli, tmp_path, text)
    assert len(lines) == 1, lines
    assert "malformed YAML" in lines[0]
    assert where(text, token, after) in lines[0]
    assert "indent" in lines[0]


def test_unterminated_quote_points_at_the_opening_quote(run_cli, tmp_path):
    """An unclosed quote is reported where it opens, not past the end of the file."""
    text = edit("seed: 42", 'seed: "42')
    lines = validate(run_cli, tmp_path, text)
    assert len(lines) == 1, lines
    assert "malformed YAML" in lines[0]
    assert where(text, '"42') in lines[0], lines[0]


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n"], ids=repr)
def test_empty_file_is_named(run_cli, tmp_path, text):
    """An empty spec file is one line that names the file and what a spec needs."""
    lines = validate(run_cli, tmp_path, text)
    assert len(lines) == 1, lines
    assert "empty" in lines[0]
    assert SPEC_NAME in lines[0], lines[0]
    assert "data" in lines[0] and "model.layers" in lines[0]


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- 1\n- 2\n", "a list"), ("just text\n", "text"), ("42\n", "42")],
    ids=["list", "text", "number"],
)
def test_top_level_not_a_mapping(run_cli, tmp_path, text, kind):
    """A spec whose top is not a mapping says what it got, where, and which keys it takes."""
    lines = validate(run_cli, tmp_path, text)
    assert len(lines) == 1, lines
    assert f"expected a mapping, got {kind}" in lines[0]
    assert f"({SPEC_NAME} line 1, column 1)" in lines[0]
    assert "keys: name, seed, rng, plugins, data, model" in lines[0]


@pytest.mark.parametrize("argument", ["missing.yaml", "sub/dir/missing.yaml"])
def test_missing_file_names_path_and_shipped_specs(run_cli, argument):
    """A missing spec file is named, with the shipped specs listed."""
    lines = assert_refused(run_cli("validate", argument))
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {argument}: no such spec file"), lines[0]
    shipped = sorted(path.stem for path in SPECS.glob("*.yaml"))
    assert "shipped specs: " + ", ".join(shipped) in lines[0]


@pytest.mark.parametrize("command", ["train", "validate", "gradcheck"])
@pytest.mark.parametrize(
    ("setting", "shown"),
    [
        ("optimizer.learning_rate=0.5", "--set optimizer.learning_rate=0.5"),
        ("model.layers[0].activation=relu", "--set 'model.layers[0].activation=relu'"),
    ],
)
def test_a_setting_given_as_the_spec_points_to_set(capsys, tmp_path, command, setting, shown):
    """`toolkit train optimizer.learning_rate=0.5`: no such file, and the --set that was meant."""
    assert main([command, setting]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"error: {setting}: no such spec file; to change a setting, use {shown}"
    ]


def test_settings_after_the_spec_point_to_set(capsys):
    """Settings left over after the spec are named with the --set that was meant."""
    with pytest.raises(SystemExit) as stopped:
        main(["train", "two_layer_relu", "optimizer.learning_rate=0.5", "seed=3"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: unrecognized arguments: optimizer.learning_rate=0.5 seed=3; "
        "to change a setting, use --set optimizer.learning_rate=0.5 --set seed=3"
    ]


def test_a_file_named_like_a_setting_is_still_a_spec(capsys, tmp_path, monkeypatch):
    """A spec file whose name has an '=' in it is read as the spec it is."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "seed=3", SHIPPED)
    assert main(["validate", "seed=3"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "valid"


def test_folder_given_as_spec(run_cli, tmp_path):
    """A folder given as the spec is named and the fix says to name the file inside."""
    (tmp_path / "specdir").mkdir()
    lines = assert_refused(run_cli("validate", "specdir"))
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: specdir: is a folder"), lines[0]
    assert ".yaml file inside it" in lines[0]


# -- unknown keys, parts and parameters -----------------------------------------------------


def test_unknown_top_keys_all_reported_with_close_matches(run_cli, tmp_path):
    """Two misspelled top-level keys give two lines, each at its key with the close match."""
    text = edit("train:", "trian:", edit("seed: 42", "sede: 42"))
    lines = validate(run_cli, tmp_path, text)
    assert len(lines) == 2, lines
    for wrong, right in (("sede", "seed"), ("trian", "train")):
        line = line_for(lines, wrong)
        assert f"unknown key '{wrong}'" in line
        assert f"({where(text, wrong + ':')})" in line
        assert f"did you mean '{right}'?" in line
        assert "keys: name, seed, rng" in line


def test_unknown_layer_key_also_reports_the_missing_one(run_cli, tmp_path):
    """A misspelled 'units' in a layer is an unknown key with its match, and units is missing."""
    text = edit("{units: 10, activation: sigmoid", "{unit: 10, activation: sigmoid")
    lines = validate(run_cli, tmp_path, text)
    assert len(lines) == 2, lines
    unknown = line_for(lines, "model.layers[0].unit")
    assert f"({where(text, 'unit:')})" in unknown
    assert "did you mean 'units'?" in unknown
    missing = line_for(lines, "model.layers[0].units")
    assert "missing required key 'units'" in missing
    line, _ = position(text, "unit:")
    assert f"{SPEC_NAME} line {line}, column" in missing


@pytest.mark.parametrize(
    ("old", "new", "path", "wrong", "right"),
    [
        ("loss: cross_entropy", "loss: cross_entropi", "loss", "cross_entropi", "cross_entropy"),
        ("name: sgd", "name: sdg", "optimizer.name", "sdg", "sgd"),
        ("{name: random,", "{name: randon,", "data.name", "randon", "random"),
        (
            "sigmoid, init: {name: uniform",
            "sigmoid, init: {name: unifrom",
            "model.layers[0].init.name",
            "unifrom",
            "uniform",
        ),
        (
            "name: central_difference",
            "name: central_diference",
            "gradient.name",
            "central_diference",
            "central_difference",
        ),
    ],
    ids=["loss", "optimizer", "dataset", "initializer", "gradient"],
)
def test_unknown_part_name_has_close_match(run_cli, tmp_path, old, new, path, wrong, right):
    """An unknown part name gives its key path, location, close match and what is available."""
    text = edit(old, new)
    lines = validate(run_cli, tmp_path, text)
    assert len(lines) == 1, lines
    # The part's own path or its 'name' key both name the key path.
    line = line_for(lines, path, path.removesuffix(".name"))
    assert f"'{wrong}'" in line
    assert f"({where(text, wrong)})" in line
    assert f"did you mean '{right}'?" in line
    assert "available: " in line and right in line.split("available: ")[1]


@pytest.mark.parametrize(
    ("old", "new", "path", "wrong", "right"),
    [
        (
            "activation: sigmoid",
            "activation: {name: leaky_relu, slop: 0.1}",
            "model.layers[0].activation.slop",
            "slop",
            "slope",
        ),
        ("samples: 100", "sampels: 100", "data.sampels", "sampels", "samples"),
        (
            "learning_rate: 0.1",
            "learning_rat: 0.1",
            "optimizer.learning_rat",
            "learning_rat",
            "learning_rate",
        ),
    ],
    ids=["activation", "dataset", "optimizer"],
)
def test_unknown_part_parameter_has_close_match(run_cli, tmp_path, old, new, path, wrong, right):
    """An unknown parameter of a part points at the key and suggests the close parameter."""
    text = edit(old, new)
    lines = validate(run_cli, tmp_path, text)
    assert len(lines) == 1, lines
    line = line_for(lines, path)
    assert f"unknown parameter '{wrong}'" in line
    assert f"({where(text, wrong + ':')})" in line
    assert f"did you mean '{right}'?" in line
    assert "parameters: " in line and right in line.split("parameters: ")[1]


# -- wrong types, sizes, non-finite numbers, output units -------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "path", "token", "message"),
    [
        (
            "units: 10, activation: sigmoid",
            "units: ten, activation: sigmoid",
            "model.layers[0].units",
            "ten",
            "expected a whole number, got text 'ten'",
        ),
        ("seed: 42", "seed: 1.5", "seed", "1.5", "expected a whole number, got 1.5"),
        (
            "train: {iterations: 300, batch_size: 10, log_every: 100}",
            "train: [1, 2]",
            "train",
            "[1, 2]",
            "expected a mapping, got a list",
        ),
        (
            "learning_rate: 0.1",
            "learning_rate: fast",
            "optimizer.learning_rate",
            "fast",
            "expected a number",
        ),
        (
            "activation: sigmoid",
            "activation: 3",
            "model.layers[0].activation",
            "3",
            "expected an activation name or a mapping",
        ),
    ],
    ids=["units-text", "seed-float", "train-list", "rate-text", "activation-number"],
)
def test_wrong_type(run_cli, tmp_path, old, new, path, token, message):
    """A value of the wrong type names its key path, what was expected and where it is."""
    assert_one_located_problem(run_cli, tmp_path, old, new, path, token, message)


@pytest.mark.parametrize(
    ("old", "new", "path", "token"),
    [
        (
            "units: 10, activation: sigmoid",
            "units: 0, activation: sigmoid",
            "model.layers[0].units",
            "0",
        ),
        ("batch_size: 10", "batch_size: -1", "train.batch_size", "-1"),
        ("iterations: 300", "iterations: 0", "train.iterations", "0"),
        ("samples: 100", "samples: 0", "data.samples", "0"),
    ],
    ids=["units", "batch_size", "iterations", "samples"],
)
def test_zero_or_negative_size(run_cli, tmp_path, old, new, path, token):
    """A zero or negative size names its key path, the bound and the value's location."""
    text = edit(old, new)
    lines = validate(run_cli, tmp_path, text)
    assert len(lines) == 1, lines
    line = line_for(lines, path)
    assert "at least 1" in line
    assert f"got {token}" in line
    assert f"({where(text, token, after=new)})" in line


def test_zero_sizes_all_reported_together(run_cli, tmp_path):
    """Zero units, a negative batch size and zero samples in one file are three lines."""
    text = edit("units: 10, activation: sigmoid", "units: 0, activation: sigmoid")
    text = edit("batch_size: 10", "batch_size: -1", text)
    text = edit("samples: 100", "samples: 0", text)
    lines = validate(run_cli, tmp_path, text)
    for path in ("model.layers[0].units", "train.batch_size", "data.samples"):
        line_for(lines, path)
    assert len(lines) == 3, lines


@pytest.mark.parametrize(
    ("old", "new", "path", "token", "message"),
    [
        (
            "learning_rate: 0.1",
            "learning_rate: .inf",
            "optimizer.learning_rate",
            ".inf",
            "expected a finite number, got inf",
        ),
        (
            "learning_rate: 0.1",
            "learning_rate: .nan",
            "optimizer.learning_rate",
            ".nan",
            "expected a finite number, got nan",
        ),
        ("h: 1.0e-4", "h: -.inf", "gradient.h", "-.inf", "expected a finite number, got -inf"),
        (
            "sigmoid, init: {name: uniform, scale: 0.01}",
            "sigmoid, init: {name: uniform, scale: .NaN}",
            "model.layers[0].init.scale",
            ".NaN",
            "expected a finite number, got nan",
        ),
        (
            "iterations: 300",
            "iterations: .inf",
            "train.iterations",
            ".inf",
            "expected a whole number, got inf",
        ),
    ],
    ids=["rate-inf", "rate-nan", "h-minus-inf", "scale-nan", "iterations-inf"],
)
def test_non_finite_number(run_cli, tmp_path, old, new, path, token, message):
    """Infinities and NaNs are refused with their key path and location."""
    assert_one_located_problem(run_cli, tmp_path, old, new, path, token, message)


def test_output_units_differ_from_classes(run_cli, tmp_path):
    """An output layer whose units differ from the classes points at model.layers[1].units."""
    new = "{units: 7, activation: softmax"
    text = edit("{units: 10, activation: softmax", new)
    lines = validate(run_cli, tmp_path, text)
    assert len(lines) == 1, lines
    line = line_for(lines, "model.layers[1].units")
    assert "7 units" in line and "10 classes" in line
    assert f"({where(text, '7', after=new)})" in line
    assert "set units: 10" in line


def test_output_units_mismatch_reported_with_other_problems(run_cli, tmp_path):
    """The units-vs-classes mismatch is reported alongside other problems, not instead of."""
    text = edit("{units: 10, activation: softmax", "{units: 7, activation: softmax")
    text = edit("activation: sigmoid", "activation: sigmiod", text)
    lines = validate(run_cli, tmp_path, text)
    line_for(lines, "model.layers[0].activation")
    line_for(lines, "model.layers[1].units")
    assert len(lines) == 2, lines


def test_several_problems_in_one_file_all_reported(run_cli, tmp_path):
    """Five different problems in one file give five lines, each with its own path and place."""
    text = edit("seed: 42", "sede: 42")
    text = edit("activation: sigmoid", "activation: sigmiod", text)
    text = edit("{units: 10, activation: sigmiod", "{units: 0, activation: sigmiod", text)
    text = edit("learning_rate: 0.1", "learning_rate: .inf", text)
    text = edit("name: central_difference, h:", "name: central_difference, hh:", text)
    lines = validate(run_cli, tmp_path, text)
    expected = {
        "sede": where(text, "sede"),
        "model.layers[0].activation": where(text, "sigmiod"),
        "model.layers[0].units": where(text, "0", after="units: 0"),
        "optimizer.learning_rate": where(text, ".inf"),
        "gradient.hh": where(text, "hh:"),
    }
    for path, location in expected.items():
        assert f"({location})" in line_for(lines, path)
    assert len(lines) == len(expected), lines


# -- YAML that must not run code, or run forever ----------------------------------------------


@pytest.mark.parametrize(
    "tag", ["!!python/object/apply:os.system", "!!python/object/new:os.system"]
)
def test_python_object_tag_is_refused_not_executed(run_cli, tmp_path, tag):
    """A tag that would call os.system is refused with its location, and nothing runs."""
    sentinel = tmp_path / "pwned"
    old = "name: two_layer_sigmoid"
    text = edit(old, f'name: {tag} ["touch {sentinel}"]')
    lines = validate(run_cli, tmp_path, text)
    assert not sentinel.exists(), "the YAML tag was executed"
    assert len(lines) == 1, lines
    line = line_for(lines, "name")
    assert f"YAML tag '{tag}' is not allowed" in line
    assert f"({where(text, tag)})" in line
    assert "remove the tag" in line


def test_every_foreign_tag_is_reported(run_cli, tmp_path):
    """Python name, module and local tags are each refused, one line each."""
    text = edit("name: two_layer_sigmoid", "name: !!python/name:os.system")
    text = edit("seed: 42", "seed: !!python/module:os", text)
    text = edit("loss: cross_entropy", "loss: !custom cross_entropy", text)
    lines = validate(run_cli, tmp_path, text)
    for path, tag in (
        ("name", "!!python/name:os.system"),
        ("seed", "!!python/module:os"),
        ("loss", "!custom"),
    ):
        line = line_for(lines, path)
        assert f"'{tag}' is not allowed" in line
        assert f"({where(text, tag)})" in line
    assert len(lines) == 3, lines


def test_recursive_alias_is_refused(run_cli, tmp_path):
    """An alias that refers to itself ends with one line naming the file, not a hang."""
    text = edit("name: two_layer_sigmoid", "name: &a [*a]")
    lines = validate(run_cli, tmp_path, text)
    assert len(lines) == 1, lines
    assert "nested" in lines[0] and "alias" in lines[0]
    line, _ = position(text, "&a")
    assert f"{SPEC_NAME} line {line}, column" in lines[0]


def test_alias_expansion_bomb_is_refused(run_cli, tmp_path):
    """Aliases that expand to billions of values are refused quickly in one line."""
    bomb = "".join(f"b{i}: &b{i} [*b{i - 1}, *b{i - 1}]\n" for i in range(1, 40))
    lines = validate(run_cli, tmp_path, "b0: &b0 [x, x]\n" + bomb)
    assert len(lines) == 1, lines
    assert "too large" in lines[0]


@pytest.mark.parametrize("depth", [60, 1000, 5000])
def test_deeply_nested_document_is_refused(run_cli, tmp_path, depth):
    """A document nested thousands deep is one error line with exit 2, not a crash."""
    text = edit("name: two_layer_sigmoid", "name: " + "[" * depth + "]" * depth)
    lines = validate(run_cli, tmp_path, text)
    assert len(lines) == 1, lines
    assert "nested" in lines[0]
    assert SPEC_NAME in lines[0]


# -- --set overrides ---------------------------------------------------------------------------


def test_set_without_equals(run_cli, tmp_path):
    """A --set with no '=' names the text given and shows the KEY=VALUE form."""
    lines = validate(run_cli, tmp_path, SHIPPED, "--set", "model.layers.0.activation")
    assert len(lines) == 1, lines
    assert "'model.layers.0.activation'" in lines[0]
    assert "expected KEY=VALUE" in lines[0]
    assert "--set optimizer.learning_rate=0.5" in lines[0]


def test_set_malformed_key(run_cli, tmp_path):
    """A --set key with an empty part is named with the --set text as its location."""
    override = "model..units=1"
    lines = validate(run_cli, tmp_path, SHIPPED, "--set", override)
    assert len(lines) == 1, lines
    assert "bad override key 'model..units'" in lines[0]
    assert f"(--set {override})" in lines[0]


@pytest.mark.parametrize(
    ("override", "right"),
    [("model.layrs.0.activation=relu", "layers"), ("trian.iterations=3", "train")],
    ids=["layers", "train"],
)
def test_set_misspelled_key_names_the_close_match(run_cli, tmp_path, override, right):
    """A misspelled --set key is one line at the --set (not the file) with the close match."""
    lines = validate(run_cli, tmp_path, SHIPPED, "--set", override)
    assert any(f"did you mean '{right}'?" in line for line in lines), lines
    for line in lines:
        assert f"--set {override}" in line, line
        assert SPEC_NAME not in line, line
    assert len(lines) == 1, lines


def test_set_index_out_of_range(run_cli, tmp_path):
    """An index past the end of model.layers names the --set, the count and the valid range."""
    override = "model.layers.5.units=3"
    lines = validate(run_cli, tmp_path, SHIPPED, "--set", override)
    assert len(lines) == 1, lines
    line = line_for(lines, "model.layers[5].units")
    assert "model.layers has 2 items" in line
    assert f"(--set {override})" in line
    assert "use an index from 0 to 1" in line


def test_set_value_of_wrong_type(run_cli, tmp_path):
    """A --set value of the wrong type names its key path and the --set it came from."""
    override = "train.iterations=abc"
    lines = validate(run_cli, tmp_path, SHIPPED, "--set", override)
    assert len(lines) == 1, lines
    line = line_for(lines, "train.iterations")
    assert "expected a whole number, got text 'abc'" in line
    assert f"(--set {override})" in line


def test_set_unknown_parameter(run_cli, tmp_path):
    """A misspelled part parameter in --set suggests the right one at the --set."""
    override = "optimizer.learning_rat=0.5"
    lines = validate(run_cli, tmp_path, SHIPPED, "--set", override)
    assert len(lines) == 1, lines
    line = line_for(lines, "optimizer.learning_rat")
    assert "did you mean 'learning_rate'?" in line
    assert f"(--set {override})" in line


def test_set_problems_reported_with_file_problems(run_cli, tmp_path):
    """Problems from several --set options and from the file are all reported."""
    text = edit("activation: sigmoid", "activation: sigmiod")
    lines = validate(
        run_cli,
        tmp_path,
        text,
        "--set",
        "train.iterations=abc",
        "--set",
        "model.layers.5.units=3",
    )
    assert f"({where(text, 'sigmiod')})" in line_for(lines, "model.layers[0].activation")
    assert "(--set train.iterations=abc)" in line_for(lines, "train.iterations")
    assert "(--set model.layers.5.units=3)" in line_for(lines, "model.layers[5].units")
    assert len(lines) == 3, lines


def test_set_python_tag_is_refused_not_executed(run_cli, tmp_path):
    """A python tag in a --set value is refused at its key path and nothing runs."""
    sentinel = tmp_path / "pwned-by-set"
    override = f'model.layers.0.activation=!!python/object/apply:os.system ["touch {sentinel}"]'
    lines = validate(run_cli, tmp_path, SHIPPED, "--set", override)
    assert not sentinel.exists(), "the YAML tag in --set was executed"
    assert len(lines) == 1, lines
    assert "'!!python/object/apply:os.system' is not allowed" in lines[0]
    assert f"--set {override}" in lines[0]
    assert lines[0].startswith("error: model.layers[0].activation: "), lines[0]


# -- usage, --debug, plugins ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--bogus", SPEC_NAME],
        ["--bogus", "validate", SPEC_NAME],
        ["validate"],
        [],
        ["frobnicate"],
        ["validate", SPEC_NAME, "--set"],
        ["train", SPEC_NAME, "--out"],
        ["validate", SPEC_NAME, "-p"],
    ],
    ids=repr,
)
def test_bad_usage_is_one_line_exit_2(run_cli, tmp_path, args):
    """Unknown options, commands and missing arguments give one error line and exit 2."""
    write(tmp_path / SPEC_NAME, SHIPPED)
    result = run_cli(*args)
    lines = assert_refused(result)
    assert result.stdout == "", result.stdout
    assert len(lines) == 1, lines
    assert "--help" in lines[0]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--debug", "validate", SPEC_NAME], {}),
        (["validate", SPEC_NAME], {"TOOLKIT_DEBUG": "1"}),
    ],
    ids=["flag", "env"],
)
def test_debug_shows_traceback(run_cli, tmp_path, args, env):
    """--debug or TOOLKIT_DEBUG=1 shows the traceback, and still the message and exit 2."""
    write(tmp_path / SPEC_NAME, edit("activation: sigmoid", "activation: sigmiod"))
    result = run_cli(*args, env=env)
    assert result.returncode == 2, result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert "error: model.layers[0].activation: unknown activation 'sigmiod'" in result.stderr
    assert result.stdout == ""


def test_without_debug_no_traceback_even_with_debug_variable_empty(run_cli, tmp_path):
    """An empty TOOLKIT_DEBUG leaves debugging off: no traceback."""
    write(tmp_path / SPEC_NAME, edit("activation: sigmoid", "activation: sigmiod"))
    lines = assert_refused(run_cli("validate", SPEC_NAME, env={"TOOLKIT_DEBUG": ""}))
    assert len(lines) == 1, lines


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "-p", "nosuchmodule", SPEC_NAME],
        ["train", "-p", "nosuchmodule", SPEC_NAME],
        ["plugins", "-p", "nosuchmodule"],
    ],
    ids=["validate", "train", "plugins"],
)
def test_unimportable_plugin_module(run_cli, tmp_path, args):
    """A -p module that cannot be imported is named in one line, exit 2."""
    write(tmp_path / SPEC_NAME, SHIPPED)
    result = run_cli(*args)
    lines = assert_refused(result)
    assert result.stdout == "", result.stdout
    assert len(lines) == 1, lines
    assert "plugin module 'nosuchmodule'" in lines[0]
    assert "cannot import" in lines[0]


# -- train writes nothing for a bad spec -------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("activation: sigmoid", "activation: sigmiod", "model.layers[0].activation"),
        (
            "{units: 10, activation: softmax",
            "{units: 7, activation: softmax",
            "model.layers[1].units",
        ),
        ("samples: 100", "samples: 0", "data.samples"),
    ],
    ids=["unknown-activation", "output-units", "zero-samples"],
)
def test_train_with_bad_spec_writes_no_run_files(run_cli, tmp_path, old, new, path):
    """toolkit train --out with a bad spec exits 2 and leaves no run files behind."""
    write(tmp_path / SPEC_NAME, edit(old, new))
    result = run_cli("train", SPEC_NAME, "--out", "run")
    lines = assert_refused(result)
    written = [name for name in RUN_FILES if (tmp_path / "run" / name).exists()]
    assert written == [], f"files written for a bad spec: {written}"
    assert any(line.startswith(f"error: {path}: ") for line in lines), lines


def test_train_with_bad_set_writes_no_run_files(run_cli, tmp_path):
    """toolkit train --out with a bad --set exits 2 and leaves no run files behind."""
    write(tmp_path / SPEC_NAME, SHIPPED)
    result = run_cli("train", SPEC_NAME, "--out", "run", "--set", "train.iterations=abc")
    lines = assert_refused(result)
    assert len(lines) == 1, lines
    written = [name for name in RUN_FILES if (tmp_path / "run" / name).exists()]
    assert written == [], f"files written for a bad override: {written}"
