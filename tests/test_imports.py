"""The package's import graph has no cycle (module-level and function-level imports alike)."""

from __future__ import annotations


def test_the_package_imports_form_no_cycle():
    import ast
    import pathlib

    import mlmc_course

    pkg = pathlib.Path(mlmc_course.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in pkg.rglob("*.py"):
        mod = "mlmc_course." + ".".join(path.relative_to(pkg).with_suffix("").parts).removesuffix(".__init__")
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mlmc_course"):
                deps.add(node.module)
                deps |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("mlmc_course")}
        graph[mod] = deps
    graph = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for d in graph[m]:
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack, m, d]))
            if d not in state:
                visit(d, [*stack, m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


def test_data_code_does_not_import_models():
    """Data generators and loaders stay below the models (mlmc_course/README.md): no import of mlmc_course.models."""
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "mlmc_course" / "data"
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("mlmc_course.models")]
    assert not offenders, offenders
