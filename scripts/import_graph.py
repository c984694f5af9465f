"""The import graph of Terrarium's own packages: modules, arrows, layers, circles.

Usage: python scripts/import_graph.py [--chains] [--leave-out MODULE ...] [--tree DIR] [PACKAGE ...]
       (default packages: runtime dashboard)

--chains       also print the longest import chains, the ones the layer count is
--leave-out    measure without MODULE and the modules under it (repeatable)
--tree         measure the tree at DIR (another checkout) instead of this one

Every import is an arrow, wherever it is written: an import inside a function
still ties the two modules together, it only hides a circle. Those are also
listed by line, since the layout rule is that each one says why.
"""

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_files(package, root=ROOT):
    for path in sorted((root / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(root).with_suffix("").parts)
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


def _left_out(module, leave_out):
    return any(module == name or module.startswith(name + ".") for name in leave_out)


def build(packages, leave_out=(), root=ROOT):
    # Imports resolve against every module, so that one of a module left out
    # is dropped, not counted as an import of its package.
    files = dict(item for package in packages for item in module_files(package, root))
    arrows, deferred = {}, {}
    for module, path in files.items():
        if _left_out(module, leave_out):
            continue
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        top = set(_top_level(tree.body))
        arrows[module] = set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            targets = {t for t in _targets(node, module, is_package, files) if not _left_out(t, leave_out)}
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


def heights(arrows):
    """Each module's layer: 1 for a module importing none of the others, else
    one more than the highest module it imports (the longest chain down)."""
    depth = {}

    def height(module, seen=()):
        if module in depth:
            return depth[module]
        if module in seen:
            return 0
        value = 1 + max((height(t, seen + (module,)) for t in arrows.get(module, ())), default=0)
        depth[module] = value
        return value

    for module in arrows:
        height(module)
    return depth


def layers(arrows):
    """Length of the longest chain of imports, counted in modules."""
    return max(heights(arrows).values(), default=0)


def longest_chains(arrows):
    """The modules on the longest chains of imports, layer by layer from the
    top ({layer: modules}), and one such chain: what to cut to lose a layer."""
    depth = heights(arrows)
    top = max(depth.values(), default=0)
    on_chain = {top: sorted(m for m in depth if depth[m] == top)}
    for layer in range(top - 1, 0, -1):
        on_chain[layer] = sorted({t for m in on_chain[layer + 1] for t in arrows[m] if depth[t] == layer})
    chain = on_chain[top][:1]
    while chain and depth[chain[-1]] > 1:
        chain.append(min(t for t in arrows[chain[-1]] if depth[t] == depth[chain[-1]] - 1))
    return on_chain, chain


def main(argv):
    parser = argparse.ArgumentParser(description="Modules, arrows, layers and circles of the import graph.")
    parser.add_argument("packages", nargs="*", default=["runtime", "dashboard"], metavar="PACKAGE")
    parser.add_argument("--chains", action="store_true", help="print the longest import chains")
    parser.add_argument("--leave-out", action="append", default=[], metavar="MODULE",
                        help="leave out MODULE and the modules under it (repeatable)")
    parser.add_argument("--tree", type=Path, default=ROOT, metavar="DIR", help="the checkout to measure")
    options = parser.parse_args(argv)
    for package in options.packages:
        arrows, deferred = build([package], options.leave_out, options.tree.resolve())
        count = sum(len(targets) for targets in arrows.values())
        print(f"{package}: {len(arrows)} modules, {count} arrows, {layers(arrows)} layers")
        for component in circles(arrows):
            print(f"  circle: {' <-> '.join(component)}")
        if options.chains:
            on_chain, chain = longest_chains(arrows)
            print(f"  a longest chain: {' -> '.join(chain)}")
            for layer, modules in on_chain.items():
                print(f"  layer {layer} of the longest chains: {', '.join(modules)}")
        for module, sites in sorted(deferred.items()):
            for line, targets in sites:
                print(f"  import inside a function: {module}:{line} -> {', '.join(targets)}")


if __name__ == "__main__":
    main(sys.argv[1:])
