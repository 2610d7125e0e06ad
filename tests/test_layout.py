"""The README's layer table and the import-linter contract in
pyproject.toml name the same layers, in the same order."""

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent


def contract_layers() -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    return [{m.strip(" ()") for m in layer.split("|")} for layer in layers]


def readme_layers() -> list[set[str]]:
    text = (ROOT / "README.md").read_text()
    table = text[text.index("| layer | modules | what it is |") :].split("\n\n")[0]
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    return [set(re.findall(r"`([\w.]+)`", row.split("|")[2])) for row in rows]


def test_readme_layers_match_the_contract():
    assert readme_layers() == contract_layers()


def test_every_module_is_in_a_layer():
    package = ROOT / "python" / "tfbundle"
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {p.parent.name for p in package.glob("*/__init__.py")} | {"_core"}
    assert set().union(*contract_layers()) == modules
