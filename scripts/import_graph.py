"""The import graph of Terrarium's own packages: modules, arrows, layers, circles.

Usage: python scripts/import_graph.py [PACKAGE ...]   (default: runtime dashboard)

Every import is an arrow, wherever it is written: an import inside a function
still ties the two modules together, it only hides a circle. Those are also
listed by line, since the layout rule is that each one says why.
"""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_files(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _resolve(name, modules):
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(node, module, is_package, modules):
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            anchor = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                anchor = anchor.rpartition(".")[0]
            base = f"{anchor}.{base}" if base else anchor
        names = [f"{base}.{alias.name}" for alias in node.names] or [base]
    for name in names:
        target = _resolve(name, modules)
        if target and target != module:
            yield target


def _top_level(body):
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for block in ("body", "orelse", "finalbody"):
                yield from _top_level(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                yield from _top_level(handler.body)


def build(packages):
    files = dict(item for package in packages for item in module_files(package))
    arrows, deferred = {}, {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        top = set(_top_level(tree.body))
        arrows[module] = set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            targets = set(_targets(node, module, is_package, files))
            arrows[module] |= targets
            if node not in top and targets:
                deferred.setdefault(module, []).append((node.lineno, sorted(targets)))
    return arrows, deferred


def circles(arrows):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in arrows.get(module, ()):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for module in sorted(arrows):
        if module not in index:
            visit(module)
    return found


def layers(arrows):
    """Length of the longest chain of imports, counted in modules."""
    depth = {}

    def height(module, seen=()):
        if module in depth:
            return depth[module]
        if module in seen:
            return 0
        value = 1 + max((height(t, seen + (module,)) for t in arrows.get(module, ())), default=0)
        depth[module] = value
        return value

    return max((height(m) for m in arrows), default=0)


def main(argv):
    packages = argv or ["runtime", "dashboard"]
    for package in packages:
        arrows, deferred = build([package])
        count = sum(len(targets) for targets in arrows.values())
        print(f"{package}: {len(arrows)} modules, {count} arrows, {layers(arrows)} layers")
        for component in circles(arrows):
            print(f"  circle: {' <-> '.join(component)}")
        for module, sites in sorted(deferred.items()):
            for line, targets in sites:
                print(f"  import inside a function: {module}:{line} -> {', '.join(targets)}")


if __name__ == "__main__":
    main(sys.argv[1:])
