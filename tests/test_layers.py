"""Which package may import which: the report reads outcomes, it does not reach into the grader.

Read from the source with `ast`, so an import inside a function counts as much as one at the top.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported(path):
    """The module names a Python file imports (absolute imports only; the package uses no relative ones)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def under(names, package):
    return sorted(n for n in names if n == package or n.startswith(package + "."))


@pytest.mark.parametrize("path", sorted((ROOT / "coursetools" / "report").glob("*.py")), ids=lambda p: p.name)
def test_the_report_does_not_import_the_grader(path):
    assert under(imported(path), "coursetools.grading") == []


@pytest.mark.parametrize("name", ["outcome", "journal", "gradebook", "errors", "course"])
def test_shared_modules_import_neither_the_grader_nor_the_report(name):
    names = imported(ROOT / "coursetools" / f"{name}.py")
    assert under(names, "coursetools.grading") + under(names, "coursetools.report") == []


@pytest.mark.parametrize("path", sorted((ROOT / "tests").rglob("test_*.py")), ids=lambda p: p.name)
def test_no_test_module_imports_another(path):
    assert [n for n in imported(path) if n.split(".")[-1].startswith("test_")] == []


def test_the_checker_catches_a_forbidden_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from coursetools.grading.run import grade\n")
    assert under(imported(sample), "coursetools.grading") == ["coursetools.grading.run",
                                                              "coursetools.grading.run.grade"]


@pytest.mark.parametrize("path", sorted((ROOT / "coursetools").rglob("*.py")), ids=lambda p: p.stem)
def test_every_module_of_the_package_imports(path):
    """A moved name is found here, in the quick tier, not by the first slow test that runs the grader."""
    import importlib

    parts = path.relative_to(ROOT).with_suffix("").parts
    importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
