"""Static screening of answer cells: find code that reaches into the grader before it runs.

An answer is a function that computes from its arguments with what the lesson's setup cell imports
(``lessons/README.md``). :func:`screen` parses an answer cell (``ast``, nothing is run) and returns a
:class:`Finding` for everything an honest answer has no reason to do and an attack needs:

* imports outside the modules answers may use, and any import of the grader (``otter``, ``mlmc_course.checks``,
  ``mlmc_course.grading``, ...); using the setup's ``checks`` module or another module the answer may not import;
* the dynamic escape hatches: ``exec``, ``eval``, ``compile``, ``__import__``, ``open``, ``globals``, ``locals``,
  ``vars``, ``getattr``/``setattr``/``delattr``, ``breakpoint``, ``input``, three-argument ``type``;
* object internals: dunder names and attributes (``__code__``, ``__globals__``, ``__builtins__``,
  ``__subclasses__``, ...), private attributes of other objects (``torch._C``, ``sys._getframe``), frame and
  traceback attributes (``tb_frame``, ``f_back``, ``f_globals``, ...), and modules reached through attributes
  (``torch.sys``, ``np.os``, ``.modules``, ``.ctypeslib``, ...);
* writing into shared state: assignments or deletions whose target is an attribute or item of something the
  cell did not create itself (``otter.Notebook.check = ...``, ``checks.f = ...``, ``np.mean = ...``,
  ``sys.modules[...] = ...``), a module passed around as a value, ``global`` of a setup name;
* objects that could fool a comparison: classes that define comparison or arithmetic dunders, subclass a
  number, array or tensor type, or set a metaclass;
* file and network access through libraries (``np.load``, ``np.fromfile``, ``.tofile``, ``torch.load``,
  ``savefig``, ``DataSource``, ``urlopen``, ...) and strings naming ``/proc``, ``/dev/``, ``autograder`` ...;
* calling the package's own implementation of the exercise (its *twin*, see :mod:`.release`);
* shell escapes and cell magics that would run something else than Python (``!cmd``, ``%%bash``, ``%run``).

The list is a screen, not a proof: the sandbox (:mod:`.isolate`), the restored snapshot and the fresh checks
(:mod:`.worker`) and the authenticated result channel stand behind it. A flagged question is not run and scores 0
until a lecturer has read the finding (``mlmc-course grade --no-screen`` runs it anyway, still sandboxed).
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field

GRADER_MODULES = (
    "otter",
    "mlmc_course.checks",
    "mlmc_course.grading",
    "mlmc_course.cli",
    "mlmc_course.runner",
    "mlmc_course.doctor",
    "mlmc_course.pytest_run_report",
)
ALLOWED_ROOTS = frozenset(
    "__future__ numpy scipy torch math cmath random statistics itertools functools operator collections "
    "dataclasses typing numbers heapq bisect sklearn xgboost tensorflow tensorflow_probability tf_keras keras "
    "nflows ot matplotlib mlmc_course madnis vegas pandas fastjet pythia8mc onnx onnxruntime".split()
)
ESCAPE_NAMES = frozenset(
    "__import__ eval exec compile open globals locals vars getattr setattr delattr breakpoint input exit quit "
    "help grader otter".split()
)
ALLOWED_DUNDERS = frozenset({"__init__", "__name__", "__doc__"})
MODULE_ATTRS = frozenset(
    "sys os builtins modules subprocess ctypes ctypeslib gc inspect importlib socket system popen fork forkpty "
    "spawnv spawnve execv execve kill environ getenv putenv hub cpp_extension".split()
)
FRAME_ATTRS = frozenset(
    "f_back f_globals f_locals f_builtins f_code tb_frame tb_next gi_frame gi_code cr_frame ag_frame".split()
)
FILE_ATTRS = frozenset(
    "load loads save savez savez_compressed savetxt loadtxt genfromtxt fromfile tofile from_file memmap "
    "open_memmap DataSource urlopen urlretrieve read_csv to_csv savefig imread imsave write_text read_text "
    "write_bytes read_bytes".split()
)
SAFE_METHOD_DUNDERS = frozenset(
    "__init__ __call__ __repr__ __str__ __len__ __getitem__ __iter__ __next__ __post_init__".split()
)
VALUE_TYPES = frozenset(
    "float int complex bool str bytes list tuple dict set frozenset type ndarray Tensor generic Number Real".split()
)
SUSPICIOUS_STRINGS = ("/proc", "/dev/", "/sys/", "autograder", "solutions/")
SHELL_MAGICS = re.compile(r"^\s*(!|%sx\b|%system\b|%run\b|%load\b|%env\b|%%(bash|sh|script|writefile|system)\b)")
MAGIC = re.compile(r"^\s*(%|!)")
BUILTIN_NAMES = frozenset(dir(builtins))


@dataclass(frozen=True)
class Finding:
    """Something in an answer cell that needs a lecturer's review."""

    line: int
    what: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.what}"


@dataclass
class Context:
    """What the screen knows about the lesson: the setup cell's names and the exercise's package twins.

    Attributes:
        modules: names the setup cell binds to modules, and which module (``np`` -> ``numpy``).
        values: other names the setup cell binds (``cfg``).
        twins: names of the package's own implementations of this exercise, with where they live.
    """

    modules: dict[str, str] = field(default_factory=dict)
    plain: set[str] = field(default_factory=set)  # names bound by ``import x [as y]``: certainly modules
    values: set[str] = field(default_factory=set)
    twins: dict[str, str] = field(default_factory=dict)

    @property
    def allowed_roots(self) -> frozenset[str]:
        roots = {m.split(".")[0] for m in self.modules.values()}
        return ALLOWED_ROOTS | {r for r in roots if not _is_grader(r) and r in ALLOWED_ROOTS | {"mlmc_course"}}


def context_from_setup(setup_sources: list[str], twins: dict[str, str] | None = None) -> Context:
    """The names that the canonical parameters and setup cells bind."""
    ctx = Context(twins=dict(twins or {}))
    for source in setup_sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    name, module = _import_binding(alias)
                    ctx.modules[name] = module
                    ctx.plain.add(name)
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    ctx.modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                ctx.values.add(node.id)
    return ctx


def _import_binding(alias: ast.alias) -> tuple[str, str]:
    """The name ``import a.b [as c]`` binds, and the module it is bound to."""
    if alias.asname:
        return alias.asname, alias.name
    root = alias.name.split(".")[0]
    return root, root


def _is_grader(module: str) -> bool:
    return any(module == g or module.startswith(g + ".") for g in GRADER_MODULES)


def prepare(source: str) -> tuple[str, list[Finding], list[str]]:
    """Replace IPython magic and shell lines by ``pass``; returns the Python source, findings and notes."""
    lines, findings, notes = [], [], []
    for i, line in enumerate(source.splitlines(), start=1):
        if MAGIC.match(line):
            indent = line[: len(line) - len(line.lstrip())]
            if SHELL_MAGICS.match(line):
                findings.append(Finding(i, f"runs something else than Python: `{line.strip()[:60]}`"))
            else:
                notes.append(f"line {i}: IPython magic `{line.strip()[:60]}` is not run by the grader")
            lines.append(indent + "pass")
        else:
            lines.append(line)
    return "\n".join(lines), findings, notes


def _scope_names(node: ast.AST) -> set[str]:
    """Names a scope binds itself (assignment targets, loop variables, definitions), not its nested scopes'."""
    names: set[str] = set()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        args = node.args
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if a is not None:
                names.add(a.arg)
    stack = list(node.body) if isinstance(node.body, list) else [node.body]
    while stack:
        child = stack.pop()
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(child.name)
            stack.extend(child.decorator_list)
            continue
        if isinstance(child, ast.Lambda):
            continue
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            names.add(child.id)
        elif isinstance(child, ast.ExceptHandler) and child.name:
            names.add(child.name)
        stack.extend(ast.iter_child_nodes(child))
    return names


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _root(node: ast.AST) -> ast.AST:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
        node = node.value
    return node


class _Screen(ast.NodeVisitor):
    def __init__(self, ctx: Context, tree: ast.Module):
        self.ctx = ctx
        self.findings: list[Finding] = []
        self.module_scope = _scope_names(tree)
        self.functions: list[set[str]] = []  # the enclosing functions' local names (innermost last)
        self.imported: dict[str, str] = {}  # names this cell binds by import -> module
        self.plain: set[str] = set(ctx.plain)
        self.parents: dict[ast.AST, ast.AST] = {}
        self.aliases = self._aliases(tree)

    def _aliases(self, tree: ast.Module) -> set[str]:
        """Names assigned a module or something reached through one (``F = torch.nn.functional``)."""
        modules = set(self.ctx.modules)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {_import_binding(a)[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                modules |= {a.asname or a.name for a in node.names}
        out: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr) and node.value is not None:
                root = _root(node.value)
                chain = isinstance(node.value, ast.Name | ast.Attribute)
                if chain and isinstance(root, ast.Name) and root.id in modules:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    out |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        return out

    def flag(self, node: ast.AST, what: str) -> None:
        self.findings.append(Finding(getattr(node, "lineno", 0), what))

    # --- imports -------------------------------------------------------------------------------------------
    def _module(self, node: ast.AST, module: str) -> None:
        if _is_grader(module):
            self.flag(node, f"imports the grader's `{module}`")
        elif module.split(".")[0] not in self.ctx.allowed_roots:
            self.flag(node, f"imports `{module}`, which answers may not use (they use what the setup cell imports)")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._module(node, alias.name)
            name, module = _import_binding(alias)
            self.imported[name] = module
            self.plain.add(name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            self.flag(node, "uses a relative import")
            return
        self._module(node, node.module)
        for alias in node.names:
            full = f"{node.module}.{alias.name}"
            if _is_grader(full) and not _is_grader(node.module):
                self.flag(node, f"imports the grader's `{full}`")
            if alias.name in self.ctx.twins:
                self.flag(node, f"imports `{full}`, the package's own version of this exercise")
            self.imported[alias.asname or alias.name] = full

    # --- names and attributes ------------------------------------------------------------------------------
    def _local(self, name: str) -> bool:
        """A local variable of an enclosing function (a function's locals cannot alias a global at run time)."""
        return any(name in scope for scope in self.functions)

    def _module_of(self, name: str) -> str | None:
        if self._local(name):
            return None
        if name in self.imported:
            return self.imported[name]
        if name in self.module_scope:
            return None  # the cell's own top-level name
        return self.ctx.modules.get(name)

    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("__") and name.endswith("__") and name not in ALLOWED_DUNDERS:
            self.flag(node, f"uses `{name}`")
        elif name in ESCAPE_NAMES and not self._local(name):
            self.flag(node, f"uses `{name}`")
        module = self._module_of(name)
        if module is not None:
            if _is_grader(module):
                self.flag(node, f"uses `{name}`, the grader's `{module}`")
            elif module.split(".")[0] not in self.ctx.allowed_roots:
                self.flag(node, f"uses the module `{name}` (`{module}`), which answers may not use")
            elif name in self.plain and not isinstance(self.parents.get(node), ast.Attribute):
                self.flag(node, f"uses the module `{name}` as a value")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        base = node.value
        if attr.startswith("__") and attr.endswith("__"):
            if attr not in ALLOWED_DUNDERS:
                self.flag(node, f"reaches into object internals through `.{attr}`")
        elif attr.startswith("_") and not (isinstance(base, ast.Name) and base.id in ("self", "cls")):
            self.flag(node, f"uses the private attribute `.{attr}`")
        if attr in FRAME_ATTRS:
            self.flag(node, f"reads interpreter frames through `.{attr}`")
        elif attr in MODULE_ATTRS:
            self.flag(node, f"reaches `{attr}` through an attribute")
        elif attr in FILE_ATTRS:
            self.flag(node, f"reads or writes files through `.{attr}` (answers compute from their arguments)")
        if attr in self.ctx.twins:
            self.flag(node, f"calls `.{attr}`, as the package's own version of this exercise ({self.ctx.twins[attr]})")
        dotted = _dotted(node)
        if dotted:
            head, _, rest = dotted.partition(".")
            module = self._module_of(head)
            if module and rest and _is_grader(f"{module}.{rest}") and not _is_grader(module):
                self.flag(node, f"reaches the grader's `{module}.{rest}`")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            for s in SUSPICIOUS_STRINGS:
                if s in node.value:
                    self.flag(node, f"mentions {s!r} (a path or a name of the grader)")
                    break

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "type" and len(node.args) == 3:
            self.flag(node, "creates a class with type(name, bases, dict)")
        self.generic_visit(node)

    # --- writes into shared state --------------------------------------------------------------------------
    def _target(self, target: ast.AST, verb: str) -> None:
        if isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                self._target(elt, verb)
            return
        if not isinstance(target, ast.Attribute | ast.Subscript):
            return
        root = _root(target)
        if not isinstance(root, ast.Name):
            self.flag(target, f"{verb} an attribute or item of an expression it did not create")
        elif not self._owns(root.id):
            self.flag(target, f"{verb} `{ast.unparse(target)}`, which belongs to the setup, a module or Python")

    def _owns(self, name: str) -> bool:
        if name in self.aliases:
            return False
        if self._local(name):
            return True
        return name in self.module_scope and name not in self.imported and name not in self.ctx.modules

    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            self._target(t, "assigns to")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._target(node.target, "changes")
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._target(node.target, "assigns to")
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            self._target(t, "deletes")
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self._target(node.target, "assigns to")
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_withitem(self, node: ast.withitem) -> None:
        if node.optional_vars is not None:
            self._target(node.optional_vars, "assigns to")
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._target(node.target, "assigns to")
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            if name in self.ctx.modules or name in self.ctx.values or name in BUILTIN_NAMES:
                self.flag(node, f"declares the setup's or Python's `{name}` global")

    # --- scopes and classes --------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.functions.append(_scope_names(node))
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            last = (_dotted(base) or "").rpartition(".")[2]
            if last in VALUE_TYPES:
                self.flag(node, f"class {node.name} subclasses `{ast.unparse(base)}`, a number, array or tensor type")
        if any(k.arg == "metaclass" for k in node.keywords):
            self.flag(node, f"class {node.name} sets a metaclass")
        for item in node.body:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                if item.name.startswith("__") and item.name.endswith("__") and item.name not in SAFE_METHOD_DUNDERS:
                    self.flag(item, f"class {node.name} defines {item.name}, which changes how it compares or computes")
        self.generic_visit(node)  # a class body is not a function scope: its names do not shadow globals

    def generic_visit(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            self.parents[child] = node
        super().generic_visit(node)


def screen(source: str, ctx: Context) -> tuple[str, list[Finding], list[str]]:
    """Screen one answer cell; returns the source to run (magics replaced), the findings and the notes.

    A cell that does not parse is returned unchanged with no finding: running it raises the ``SyntaxError``
    that the student should see.
    """
    python, findings, notes = prepare(source)
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return python, findings, notes
    visitor = _Screen(ctx, tree)
    visitor.visit(tree)
    seen, unique = set(), []
    for f in findings + visitor.findings:
        if (f.line, f.what) not in seen:
            seen.add((f.line, f.what))
            unique.append(f)
    return python, sorted(unique, key=lambda f: f.line), notes
