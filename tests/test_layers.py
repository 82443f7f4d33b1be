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


# Module-level names that hold a mutable container and are not constants, each because a
# framework reads it by that name once at start-up and nothing changes it afterwards.
MUTABLE_AT_MODULE_LEVEL_ALLOWED = {
    "__all__": "what `from ... import *` takes",
    "urlpatterns": "the list Django reads from a URLconf",
    "websocket_urlpatterns": "the list Channels' router reads (chargers/routing.py)",
    "api_v1": "graylogic/urls.py: the API's routes, included in urlpatterns",
}
MUTABLE_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter"}
MUTATING_METHODS = {
    "append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem", "clear", "remove", "discard",
}  # fmt: skip


def module_level_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements a module runs when imported, inside `if`, `try` and `with` too."""
    statements = []
    for statement in body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        statements.append(statement)
        for nested in ("body", "orelse", "finalbody", "handlers"):
            statements.extend(module_level_statements(getattr(statement, nested, [])))
    return statements


def is_mutable_container(value: ast.expr | None) -> bool:
    if isinstance(value, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp):
        return True
    if isinstance(value, ast.Call):
        called = value.func
        return (called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", None)) in MUTABLE_CALLS
    return False


def containers_bound(statements: list[ast.stmt], prefix: str = "") -> list[tuple[str, ast.stmt]]:
    """(name, statement) for each name these statements bind to a mutable container."""
    bound = []
    for statement in statements:
        if isinstance(statement, ast.Assign | ast.AnnAssign) and is_mutable_container(statement.value):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            # (`CONSTANT[key] = value` at module level completes a constant while importing.)
            bound += [(prefix + target.id, statement) for target in targets if isinstance(target, ast.Name)]
    return bound


def mutated_in_functions(tree: ast.Module) -> set[str]:
    """What a function of the module changes in place: `NAME[k] = v`, `del NAME[k]`,
    `NAME.add(v)`, `Class.attribute.append(v)`."""
    names = set()
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            targets = []
            if isinstance(node, ast.Assign | ast.Delete):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) in MUTATING_METHODS:
                targets = [node.func]
            for target in targets:
                if isinstance(target, ast.Subscript | ast.Attribute):
                    names.add(ast.unparse(target.value))
    return names


def test_no_state_is_kept_at_module_level():
    """What a process keeps while it runs (the rebalance runtime, site locks, where charger events
    go, the hot path's batched writes, what `serve` runs beside the server, the health checks'
    outage logs) is chosen once at start-up and held by its app's AppConfig (energy/apps.py,
    chargers/apps.py, graylogic/apps.py). A `global` statement, a module-level list, dict or set
    that is not a constant (an UPPER_CASE name no function of its module changes), or a class's
    container changed through the class (a registry of instances) is state outside that place."""
    found = []
    for path in project_modules().values():
        tree = ast.parse((ROOT / path).read_text())
        mutated = mutated_in_functions(tree)
        found += [
            f"{path}:{node.lineno} {ast.unparse(node)}" for node in ast.walk(tree) if isinstance(node, ast.Global)
        ]
        for name, statement in containers_bound(module_level_statements(tree.body)):
            if name not in MUTABLE_AT_MODULE_LEVEL_ALLOWED and (not name.isupper() or name in mutated):
                found.append(f"{path}:{statement.lineno} {ast.unparse(statement)[:100]}")
        for cls in (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)):
            for name, statement in containers_bound(cls.body, prefix=f"{cls.name}."):
                if name in mutated:
                    found.append(f"{path}:{statement.lineno} {name}, changed through its class")
    assert found == [], "hold this state in the app's AppConfig, chosen in ready() (or make it a constant):\n" + (
        "\n".join(found)
    )
