"""The client is its own distribution: it imports nothing of the farm, only the libraries its
pyproject declares."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

from tests.support.processes import REPO

CLIENT = REPO / "client"
# Distribution name -> the module it installs.
MODULES = {
    "requests": "requests",
    "click": "click",
    "pyyaml": "yaml",
    "tqdm": "tqdm",
    "pillow": "PIL",
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_client_imports_only_itself_its_declared_libraries_and_the_standard_library():
    meta = tomllib.loads((CLIENT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {
        MODULES[dep.split(">")[0].split("=")[0].strip().lower()] for dep in meta["dependencies"]
    }
    allowed = declared | {"tower_client", "__future__"} | set(sys.stdlib_module_names)
    for path in sorted((CLIENT / "tower_client").glob("*.py")):
        foreign = imported_roots(path) - allowed
        assert not foreign, f"{path.name} imports {sorted(foreign)}"


def test_the_tower_command_is_the_clients():
    meta = tomllib.loads((CLIENT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["scripts"] == {"tower": "tower_client.cli:main"}
    farm = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "scripts" not in farm
