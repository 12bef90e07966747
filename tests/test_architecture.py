"""The core's dependency rule (docs/architecture.md) holds: import-linter's contracts,
declared in pyproject.toml, are kept, type-only imports included."""

from __future__ import annotations

import shutil
import subprocess

from importlinter.api import read_configuration

from tests.helpers import ROOT


def test_the_import_contracts_are_kept() -> None:
    """Layers, the model's and the conformance kit's forbidden imports, the protected
    command line, and no import circle anywhere in the core."""
    command = shutil.which("lint-imports")
    assert command is not None, "import-linter is in the test extra; reinstall '.[test]'"
    result = subprocess.run(
        [command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 5 kept, 0 broken." in result.stdout


def test_the_contracts_name_every_package_of_the_core() -> None:
    """A new subpackage of toolkit/ gets its place in the layers, or the rule says nothing
    about it."""
    contracts = read_configuration(str(ROOT / "pyproject.toml"))["contracts_options"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    packages = {
        f"toolkit.{p.name}" for p in (ROOT / "toolkit").iterdir() if (p / "__init__.py").exists()
    }
    assert set(layers) == packages
