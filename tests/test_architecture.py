"""The package's layers: imports point down, no private names cross modules, no cycles.

Reads every module of ``src/innoclusters`` with :mod:`ast` (nothing is imported), so a
wrong import fails here with the module, line and rule, before it can bite at run time.
The layers are those of docs/architecture.md; a new module must be given one below.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from innoclusters._lazy import LazyModule

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "innoclusters"

#: Layer of each module or package (a package's layer covers its submodules), lowest first.
#: A module may import modules of its own layer or lower ones, never higher ones.
LAYERS: dict[str, int] = {
    # 0 bottom: errors, settings, sphere geometry, files, country codes, version
    "innoclusters.errors": 0,
    "innoclusters._version": 0,
    "innoclusters.config": 0,
    "innoclusters.geo": 0,
    "innoclusters._io": 0,
    "innoclusters._lazy": 0,
    "innoclusters.countries": 0,
    # 1 method building blocks that need no records
    "innoclusters.editions": 1,
    "innoclusters.density": 1,
    "innoclusters.places": 1,
    "innoclusters._gazetteer": 1,
    "innoclusters._gazetteer_admin1": 1,
    # 2 reading: upstream adapters, the records table, the result container
    "innoclusters.sources": 2,
    "innoclusters.records": 2,
    "innoclusters.result": 2,
    # 3 method stages
    "innoclusters.locations": 3,
    "innoclusters.areas": 3,
    "innoclusters.profiles": 3,
    "innoclusters.ranking": 3,
    "innoclusters.uncertainty": 3,
    "innoclusters.matching": 3,
    # 4 comparisons (frames only)
    "innoclusters.compare": 4,
    # 5 the pipeline and its engines
    "innoclusters.pipeline": 5,
    "innoclusters.engines": 5,
    # 6 publishing: nothing below imports it
    "innoclusters.publish": 6,
    # 7 commands, the demo world and the package's public surface
    "innoclusters.cli": 7,
    "innoclusters.demo": 7,
    "innoclusters": 7,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _layer(module: str) -> int | None:
    name = module
    while name:
        if name in LAYERS:
            return LAYERS[name]
        name = name.rpartition(".")[0]
    return None


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """Absolute module name of a ``from ... import`` (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    is_package = MODULES[module].name == "__init__.py"
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: str) -> list[tuple[str, str | None, int, bool]]:
    """``(target module, imported name or None, line, inside a function)`` of ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: list[tuple[str, str | None, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            if isinstance(child, ast.Import):
                found.extend((a.name, None, child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(module, child)
                for alias in child.names:
                    sub = f"{target}.{alias.name}"
                    if sub in MODULES:  # ``from pkg import submodule``
                        found.append((sub, None, child.lineno, in_function))
                    else:
                        found.append((target, alias.name, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return [f for f in found if f[0] == PACKAGE or f[0].startswith(PACKAGE + ".")]


def _owner(target: str) -> str:
    """The module of the package that ``target`` names (itself, or its nearest parent)."""
    name = target
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def test_every_module_has_a_layer() -> None:
    missing = [m for m in MODULES if _layer(m) is None]
    assert not missing, f"give these modules a layer in LAYERS: {missing}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    own = _layer(module)
    assert own is not None
    upward = [
        f"line {line}: {target} (layer {_layer(target)})"
        for target, _name, line, _fn in _imports(module)
        if (_layer(target) or 0) > own
    ]
    assert not upward, f"{module} (layer {own}) imports upward: {upward}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_crosses_a_module(module: str) -> None:
    crossing = [
        f"line {line}: {name} from {target}"
        for target, name, line, _fn in _imports(module)
        if name
        and name.startswith("_")
        and name != "__version__"
        and _owner(target) != module
        and f"{target}.{name}" not in MODULES
    ]
    assert not crossing, f"{module} imports private names: {crossing}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_package_import_inside_a_function(module: str) -> None:
    late = [
        f"line {line}: {target}"
        for target, _name, line, in_function in _imports(module)
        if in_function
    ]
    assert not late, (
        f"{module} imports package modules inside functions (move them to the top; only "
        f"optional third-party dependencies are imported late): {late}"
    )


def test_no_import_cycle() -> None:
    graph = {m: sorted({_owner(t) for t, _n, _l, _f in _imports(m)} - {m, ""}) for m in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for module in MODULES:
        if module not in state and (cycle := walk(module)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_import_innoclusters_loads_no_publishing() -> None:
    code = (
        "import sys, innoclusters; "
        "print(sorted(m for m in sys.modules if m.startswith(('innoclusters.publish', "
        "'innoclusters.demo', 'jinja2', 'xlsxwriter', 'plotly'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_lazy_public_names_resolve() -> None:
    import innoclusters

    assert callable(innoclusters.write_outputs)
    assert innoclusters.write_outputs.__module__ == "innoclusters.publish"
    assert {"write_outputs", "run_demo", "generate_world"} <= set(dir(innoclusters))
    with pytest.raises(AttributeError):
        _ = innoclusters.no_such_name  # type: ignore[attr-defined]


def test_import_innoclusters_and_cli_load_no_method() -> None:
    """``import innoclusters`` loads no stage; the command layer (``inspect``, ``--help``)
    loads only what reading needs: no pipeline, kernel (Numba), writers or gazetteer (SciPy,
    Shapely) until a command uses them."""
    code = (
        "import sys, innoclusters; a = sorted(sys.modules); import innoclusters.cli; "
        "heavy = ('numba', 'scipy', 'shapely', 'innoclusters.pipeline', 'innoclusters.density', "
        "'innoclusters.publish', 'innoclusters.compare', 'innoclusters.demo', "
        "'innoclusters.places.'); "
        "print([m for m in a if m.startswith(('innoclusters.records', *heavy))]); "
        "print([m for m in sys.modules if m.startswith(heavy)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[:2] == ["[]", "[]"]


def _type_checking_imports(module: str) -> dict[str, str]:
    """Name -> module of the imports under ``if TYPE_CHECKING:`` at the top of ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for child in node.body:
                if isinstance(child, ast.ImportFrom):
                    found.update({a.asname or a.name: child.module or "" for a in child.names})
                elif isinstance(child, ast.Import):
                    found.update({a.asname or a.name: a.name for a in child.names})
    return found


def test_late_imports_are_the_declared_ones() -> None:
    """The rule for late imports of the package's own modules: only the packages
    ``innoclusters`` and ``innoclusters.places`` (``_LAZY``, PEP 562: their public names
    on first use) and ``innoclusters.cli`` (``LazyModule`` objects) load modules on first
    use, both through ``innoclusters._lazy``, the one module that calls ``import_module``;
    and each
    name they load lazily is imported, for type checkers and for the layer rules above,
    under ``if TYPE_CHECKING:`` from the same module."""
    import innoclusters
    import innoclusters.cli as cli
    import innoclusters.places as places

    assert _type_checking_imports("innoclusters") == innoclusters._LAZY
    assert _type_checking_imports("innoclusters.places") == places._LAZY
    assert sorted(places._LAZY) == sorted(places.__all__)
    later = {name: value.name for name, value in vars(cli).items() if isinstance(value, LazyModule)}
    assert later and _type_checking_imports("innoclusters.cli") == later
    users = [m for m, path in MODULES.items() if "import_module(" in path.read_text("utf-8")]
    assert users == ["innoclusters._lazy"]


def test_public_function_keeps_its_name_when_its_submodule_loads() -> None:
    # The pipeline loads innoclusters.uncertainty (the module) before anyone asks for
    # innoclusters.uncertainty (the public function).
    code = (
        "import innoclusters.pipeline, innoclusters, sys; "
        "print(innoclusters.uncertainty.__name__, type(sys.modules['innoclusters.uncertainty']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "uncertainty <class 'module'>"
