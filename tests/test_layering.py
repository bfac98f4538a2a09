"""The shape of the code: lower layers never import higher ones, commands import each other
in one direction only, and every decision goes through the one pipeline."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

# What each lower layer may import from the project (prefixes); everything else is above it.
ALLOWED = {
    "flaggate.errors": (),
    "flaggate.clock": ("flaggate.errors",),
    "flaggate.yamlio": ("flaggate.errors",),
    "flaggate.patterns": (),
    "flaggate.git": ("flaggate.errors",),
    "flaggate.model": (
        "flaggate.errors",
        "flaggate.clock",
        "flaggate.yamlio",
        "flaggate.patterns",
        "flaggate.model",
    ),
    "flaggate.diff": ("flaggate.model.flags", "flaggate.model.base"),
    "flaggate.policy": (
        "flaggate.errors",
        "flaggate.clock",
        "flaggate.diff",
        "flaggate.model.policy",
        "flaggate.model.policyset",
        "flaggate.model.settings",
        "flaggate.model.base",
        "flaggate.policy",
        "flaggate.patterns",
        "flaggate.pull.context",
    ),
}

# Imports a package may never make, whatever else it imports.
FORBIDDEN = {
    "flaggate.pull": ("flaggate.gates", "flaggate.commands", "flaggate.render", "flaggate.source"),
    "flaggate.integrations": ("flaggate.render", "flaggate.publish", "flaggate.commands"),
    "flaggate.incident": ("flaggate.publish", "flaggate.gates", "flaggate.commands"),
    "flaggate.publish": ("flaggate.commands", "flaggate.source", "flaggate.pipeline"),
    "flaggate.gates": ("flaggate.commands", "flaggate.pipeline", "flaggate.publish"),
    "flaggate.commands.demo": ("flaggate.cli",),
}

# Only the pipeline compares and evaluates; only the gate runner and the pipeline run gates.
PIPELINE_ONLY = {
    "flaggate.policy.evaluate": ("flaggate.pipeline",),
    "flaggate.source.compare": ("flaggate.pipeline",),
    "flaggate.gates.runner.run_gates": ("flaggate.pipeline",),
    "flaggate.gates.runner.gate_context": ("flaggate.pipeline",),
}


def modules() -> dict[str, set[str]]:
    """Every module of the project and the project modules (and names) it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((SRC / "flaggate").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        imports: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("flaggate"):
                    imports.add(node.module)
                    imports.update(f"{node.module}.{alias.name}" for alias in node.names)
                elif node.module == "flaggate" or node.level:
                    raise AssertionError(f"{name}: relative import")
            elif isinstance(node, ast.Import):
                imports.update(a.name for a in node.names if a.name.startswith("flaggate"))
        found[name] = {i for i in imports if i.startswith("flaggate.") or i == "flaggate"}
    return found


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_violations(found: dict[str, set[str]]) -> list[str]:
    """``module imports higher`` for every import a lower layer may not make."""
    wrong = []
    for module, imports in found.items():
        for layer, allowed in ALLOWED.items():
            if not within(module, layer):
                continue
            for imported in imports:
                if imported == "flaggate.clock" and layer != "flaggate.errors":
                    continue
                if not any(within(imported, ok) for ok in allowed) and not within(imported, layer):
                    wrong.append(f"{module} imports {imported}")
    return wrong


def test_lower_layers_do_not_reach_up() -> None:
    assert layer_violations(modules()) == []


def test_forbidden_imports() -> None:
    wrong = [
        f"{module} imports {imported}"
        for module, imports in modules().items()
        for package, banned in FORBIDDEN.items()
        if within(module, package)
        for imported in imports
        if any(within(imported, b) for b in banned)
    ]
    assert wrong == []


def test_every_decision_goes_through_the_pipeline() -> None:
    wrong = [
        f"{module} imports {imported}"
        for module, imports in modules().items()
        for name, allowed in PIPELINE_ONLY.items()
        for imported in imports
        if imported == name and module not in allowed and not within(module, name)
    ]
    assert wrong == []


def test_commands_import_each_other_without_cycles() -> None:
    found = modules()  # parse the sources once, not once per import
    commands = modules_of_commands(found)
    graph = {
        module: {i for i in imports if i in commands}
        for module, imports in found.items()
        if module.startswith("flaggate.commands.")
    }
    seen: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if seen.get(node) == 1:
            raise AssertionError("import cycle: " + " -> ".join([*path, node]))
        if seen.get(node) == 2:
            return
        seen[node] = 1
        for nxt in graph.get(node, ()):
            visit(nxt, [*path, node])
        seen[node] = 2

    for node in graph:
        visit(node, [])


def modules_of_commands(found: dict[str, set[str]]) -> set[str]:
    return {m for m in found if m.startswith("flaggate.commands.")}


def test_the_layer_check_finds_a_module_reaching_up() -> None:
    found = {
        "flaggate.policy.rules": {"flaggate.model.load", "flaggate.diff"},
        "flaggate.git": {"flaggate.errors", "flaggate.source"},
        "flaggate.diff": {"flaggate.model.flags"},
    }
    assert layer_violations(found) == [
        "flaggate.policy.rules imports flaggate.model.load",
        "flaggate.git imports flaggate.source",
    ]
