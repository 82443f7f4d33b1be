"""The layers in pyproject.toml hold only if every module is in one, and no import hides in a
function: lint-imports (run by bin/test) sees imports inside functions too, but an import put
there to dodge a cycle is the knot the layers exist to prevent."""

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
LAYERS = next(c for c in CONFIG["contracts"] if c["type"] == "layers")["layers"]

# Imports inside a function, each for a reason that is not a cycle.
IMPORTS_IN_FUNCTIONS_ALLOWED = {
    # Twisted's reactor must be imported only after daphne installed the asyncio reactor.
    "graylogic/embedded_jobs.py": "twisted.internet",
}


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in CONFIG["root_packages"]:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts:
                continue
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = relative
    return modules


def placed_modules() -> set[str]:
    return {name.strip() for layer in LAYERS for name in layer.replace("|", ":").split(":")}


def test_every_module_is_in_a_layer():
    placed = placed_modules()
    unplaced = [
        name
        for name, path in project_modules().items()
        if path.name != "__init__.py" and not any(name == p or name.startswith(p + ".") for p in placed)
    ]
    assert unplaced == [], f"place these modules in a layer in pyproject.toml: {unplaced}"


def test_every_layer_names_a_module_that_exists():
    modules = project_modules()
    assert sorted(placed_modules() - set(modules)) == []


def test_no_import_sits_inside_a_function():
    found = []
    for path in project_modules().values():
        tree = ast.parse((ROOT / path).read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    imported = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                    if IMPORTS_IN_FUNCTIONS_ALLOWED.get(str(path)) != imported:
                        found.append(f"{path}:{node.lineno} {ast.unparse(node)}")
    assert found == [], "move these imports to the top of their module (or the definition down a layer):\n" + (
        "\n".join(found)
    )
