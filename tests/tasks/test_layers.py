"""The layers point one way: the pipeline logic needs no Celery (the web tier calls it), and
workers/ and shared/ know nothing of the layers above them."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.processes import REPO


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def offenders(folder: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in sorted((REPO / folder).rglob("*.py")):
        bad = sorted(
            n
            for n in imported(path)
            if n.split(".")[0] in forbidden
            or any(n.startswith(f + ".") for f in forbidden if "." in f)
        )
        if bad:
            found[str(path.relative_to(REPO))] = bad
    return found


def test_the_pipeline_logic_needs_no_celery():
    assert offenders("tasks/pipeline", ("celery", "kombu", "tasks.app")) == {}
    for path in (REPO / "tasks" / "pipeline").glob("*.py"):
        adapters = {
            n
            for n in imported(path)
            if n.startswith("tasks.") and not n.startswith("tasks.pipeline")
        }
        assert not adapters, f"{path.name} imports the Celery adapters {sorted(adapters)}"


def test_workers_and_shared_know_nothing_above_them():
    assert offenders("workers", ("web", "tasks", "celery")) == {}
    assert offenders("shared", ("web", "tasks", "workers", "celery")) == {}
