"""The package's layout: no module imports a module that imports it back (imports inside functions
count too), and the folders depend one way: core <- planners <- demos <- the front doors; the tests are kept
in folders by the same lines."""

import ast
from pathlib import Path

AGENT = Path(__file__).resolve().parent.parent / "agent"
LAYERS = {"core": 0, "planners": 1, "demos": 2}  # anything else in agent/ is a front door (layer 3)


def module_name(path: Path) -> str:
    parts = path.relative_to(AGENT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from agent.core import actions` imports the module agent.core.actions
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in modules}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in AGENT.rglob("*.py")}
    return {name: imports_of(path, set(paths)) for name, path in paths.items()}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], 3) if len(parts) > 2 else 3


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    state: dict[str, str] = {}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                cycles.append(path[path.index(imported):] + [imported])
            elif imported not in state:
                visit(imported, path + [imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert len(graph) > 30 and not cycles, cycles


def test_folders_depend_one_way():
    upward = [f"{module} imports {imported}" for module, imported_modules in import_graph().items()
              for imported in imported_modules if layer(imported) > layer(module)]
    assert not upward, upward


def test_the_tests_are_kept_by_package():
    """Each test file in the folder of what it tests (the one of agent/'s folders, `front` for the front doors,
    or `sandbox`), each folder a package, so that tests/support is imported by name and no test file is flat."""
    tests = Path(__file__).resolve().parent
    flat = sorted(path.name for path in tests.glob("test_*.py") if path.name != Path(__file__).name)
    folders = {path.parent.name for path in tests.glob("*/test_*.py")}
    assert not flat and folders == set(LAYERS) | {"front", "sandbox"}, (flat, folders)
    assert all((tests / folder / "__init__.py").exists() for folder in folders | {"support"})
