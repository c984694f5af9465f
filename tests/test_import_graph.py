"""The layout's rules, checked on the source: no import circles in runtime/
or dashboard/, every import inside a function says why on the line above, and
runtime/ stays within its layers."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import import_graph  # noqa: E402


@pytest.mark.parametrize("package", ["runtime", "dashboard"])
def test_there_is_no_import_circle(package):
    arrows, _ = import_graph.build([package])
    assert import_graph.circles(arrows) == []


@pytest.mark.parametrize("package", ["runtime", "dashboard"])
def test_every_import_inside_a_function_says_why(package):
    _, deferred = import_graph.build([package])
    unexplained = []
    for module, sites in deferred.items():
        path = ROOT / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = ROOT / module.replace(".", "/") / "__init__.py"
        lines = path.read_text().splitlines()
        for line, _ in sites:
            if not ("#" in lines[line - 1] or _follows_explained_import(lines, line)):
                unexplained.append(f"{module}:{line}")
    assert unexplained == []


def _follows_explained_import(lines, line):
    """One comment may head a run of imports (blank lines between them)."""
    i = line - 2
    while i >= 0 and (not lines[i].strip() or lines[i].strip().startswith(("from ", "import "))):
        i -= 1
    return i >= 0 and lines[i].strip().startswith("#")


# runtime/ reads top to bottom in at most this many layers (`scripts/import_graph.py
# --chains runtime` shows the longest chains): an import that adds one is, as a rule,
# a low module reaching up for something that belongs lower down.
RUNTIME_LAYERS = 9


def test_runtime_stays_within_its_layers():
    arrows, _ = import_graph.build(["runtime"])
    assert import_graph.layers(arrows) <= RUNTIME_LAYERS, " -> ".join(import_graph.longest_chains(arrows)[1])
