"""The package's shape: its imports run one way (no cycle, not even under TYPE_CHECKING or inside a
function), the README's module map lists them in that order, and the command line loads the grader
only for the grading commands."""

import ast
from pathlib import Path

import pytest

import ffnn_lab

PACKAGE = Path(ffnn_lab.__file__).parent


def name_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {name_of(p): p for p in PACKAGE.rglob("*.py")}


def imported(path: Path, module_level_only: bool = False) -> set[str]:
    """The package's modules that path imports, anywhere in it or only at module level."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level_only else ast.walk(tree)
    here = name_of(path).split(".") if path.name == "__init__.py" else name_of(path).split(".")[:-1]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(here[: len(here) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            # a submodule by name (from . import config), else a name the module defines
            targets = [
                f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            found.add(target)
    return found - {name_of(path), ""}


def test_no_module_imports_itself_round_a_loop():
    graph = {name: imported(path) for name, path in MODULES.items()}
    done, path = set(), []

    def visit(name):
        if name in path:
            pytest.fail("import cycle: " + " -> ".join([*path[path.index(name) :], name]))
        if name not in done:
            path.append(name)
            for other in sorted(graph[name]):
                visit(other)
            path.pop()
            done.add(name)

    for name in sorted(graph):
        visit(name)
    assert "ffnn_lab.train" in graph["ffnn_lab.cli"]  # the walk reads imports at all


def test_the_command_line_imports_the_grader_only_to_grade():
    assert not {m for m in imported(MODULES["ffnn_lab.cli"], module_level_only=True) if ".grading" in m}
    assert "ffnn_lab.grading.runner" in imported(MODULES["ffnn_lab.cli"])  # inside grade()


def test_setting_up_a_notebook_does_not_need_the_training_loop():
    assert not {"ffnn_lab.train", "ffnn_lab.eager", "ffnn_lab.graphed"} & imported(
        MODULES["ffnn_lab.notebook"]
    )


def readme_map() -> list[str]:
    """The modules of the README's 'Inside the package' table, in its order."""
    text = (PACKAGE.parent / "README.md").read_text()
    section = text.split("## Inside the package\n", 1)[1].split("\n## ", 1)[0]
    return [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]


def entry_of(module: str) -> str:
    """The table entry that holds a dotted module name: a file's own, or its package folder's."""
    relative = module.split(".")[1:]
    if not relative:
        return "__init__.py"
    return f"{relative[0]}/" if len(relative) > 1 or (PACKAGE / relative[0]).is_dir() else f"{relative[0]}.py"


def test_the_readme_maps_every_module_and_each_imports_only_those_above_it():
    rows = readme_map()
    entries = {name: entry_of(name) for name in MODULES}
    assert sorted(set(entries.values()) - set(rows)) == []  # every module has a row
    assert sorted(set(rows) - set(entries.values())) == []  # and every row a module
    assert len(rows) == len(set(rows))
    row = {name: rows.index(entry) for name, entry in entries.items()}
    upward = [
        f"{name} imports {other}"
        for name, path in MODULES.items()
        for other in imported(path)
        if row[other] > row[name] or (row[other] == row[name] and not rows[row[name]].endswith("/"))
    ]
    assert upward == []
