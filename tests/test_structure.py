"""The shape of the source tree: imports run one way, modules and functions stay short.

Read with the standard library's ``ast`` (no third-party tool): every ``import`` and ``from ... import``
anywhere in a module counts, function-level ones included, relative and absolute alike;
``from . import x`` is a dependency on the module ``x`` (on the package only when ``x`` is a name
defined in it). The top package ``handprop/__init__.py`` is the public face that imports everything:
reading a name from it depends on the module that name comes from (``from .. import fit`` on
``handprop.training``), and on nothing for a name it defines itself (``__version__``). Every other
package's ``__init__`` counts as a module like any other.

Limits (docs: STYLE.md): a module holds at most 400 lines, a function at most 60.
"""

import ast
import functools
import os
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "handprop"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60



def modules(root):
    """``{dotted name: path}`` for every ``.py`` file under ``root`` (a package directory)."""
    found = {}
    for path in sorted(Path(root).rglob("*.py")):
        parts = list(path.relative_to(Path(root).parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


@functools.lru_cache(maxsize=None)
def _read(path):
    """``(text, tree)`` of a source file, parsed once per test run."""
    text = Path(path).read_text(encoding="utf-8")
    return text, ast.parse(text)


def _nearest(name, known):
    """``name`` or the closest enclosing module of it that exists (``pkg.mod.func`` -> ``pkg.mod``)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _imported(name, path, known, node):
    """``[(module, name or None)]`` that one import statement of module ``name`` reads."""
    if isinstance(node, ast.Import):
        return [(_nearest(alias.name, known), None) for alias in node.names]
    if node.level:
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        base = package.split(".")
        base = ".".join(base[:len(base) - (node.level - 1)])
        full = f"{base}.{node.module}" if node.module else base
    else:
        full = node.module
    # from pkg import mod: the module; from pkg import name: pkg (and the name, to look up re-exports)
    return [(f"{full}.{alias.name}", None) if f"{full}.{alias.name}" in known else (_nearest(full, known), alias.name)
            for alias in node.names]


def _statements(path):
    return [node for node in ast.walk(_read(path)[1]) if isinstance(node, (ast.Import, ast.ImportFrom))]


def reexports(known):
    """``{name: module}`` for the names the top package imports from its modules (``from .training
    import fit``): reading such a name from the top package depends on that module."""
    top = min(known, key=len)
    found = {}
    for node in _statements(known[top]):
        if isinstance(node, ast.ImportFrom):
            for (module, _), alias in zip(_imported(top, known[top], known, node), node.names):
                if module not in (None, top):
                    found[alias.asname or alias.name] = module
    return found


def imports_of(name, path, known):
    """The modules of ``known`` that module ``name`` (at ``path``) imports, anywhere in its code."""
    top, names = min(known, key=len), reexports(known)
    targets = set()
    for node in _statements(path):
        for module, imported in _imported(name, path, known, node):
            targets.add(names.get(imported) if module == top else module)
    return {t for t in targets if t is not None and t != name and t != top}


def import_graph(root):
    known = modules(root)
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(graph):
    """Each import cycle as a list of modules ``[a, b, ..., a]``, one per strongly connected group."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_path_in(group, graph) for group in groups]


def _path_in(group, graph):
    """One closed path through ``group`` (breadth first from its first member back to it)."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & group):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    raise AssertionError(f"no cycle through {sorted(group)}")


def oversized(root):
    """``[(file, what, lines)]``: modules over 400 lines and functions over 60."""
    found = []
    for path in sorted(Path(root).rglob("*.py")):
        text, tree = _read(path)
        rel = os.path.relpath(path, root)
        if len(text.splitlines()) > MAX_MODULE_LINES:
            found.append((rel, "module", len(text.splitlines())))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append((rel, f"{node.name} (line {node.lineno})", length))
    return found


# -- the checker itself, on a package written for the purpose -------------------------------------------
def _package(tmp_path, files):
    root = tmp_path / "pkg"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    root = _package(tmp_path, {"__init__.py": "from . import a\n", "a.py": "from .b import f\n",
                               "b.py": "def f():\n    from . import a\n    return a\n"})
    assert cycles(import_graph(root)) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_absolute_and_parent_relative_imports_count(tmp_path):
    root = _package(tmp_path, {"__init__.py": "", "a.py": "import pkg.sub.c\n", "sub/__init__.py": "",
                               "sub/c.py": "def g():\n    from ..a import x\n"})
    assert cycles(import_graph(root)) == [["pkg.a", "pkg.sub.c", "pkg.a"]]


def test_a_name_from_the_top_package_and_a_one_way_chain_are_no_cycle(tmp_path):
    root = _package(tmp_path, {"__init__.py": "__version__ = '1'\nfrom .a import A\nfrom .b import B\n",
                               "a.py": "from . import __version__\nA = 1\n",
                               "b.py": "from .a import A\nfrom . import a\nB = A\n"})
    graph = import_graph(root)
    assert graph["pkg.a"] == set() and graph["pkg.b"] == {"pkg.a"}
    assert cycles(graph) == []


def test_a_name_the_top_package_reexports_depends_on_its_module(tmp_path):
    root = _package(tmp_path, {"__init__.py": "from .a import fit as train\nfrom .b import B\n",
                               "a.py": "from .b import B\ndef fit():\n    pass\n",
                               "b.py": "def g():\n    from . import train\n    return train\nB = 1\n"})
    assert import_graph(root)["pkg.b"] == {"pkg.a"}
    assert cycles(import_graph(root)) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_from_a_subpackage_import_a_name_depends_on_its_init(tmp_path):
    root = _package(tmp_path, {"__init__.py": "", "sub/__init__.py": "from .c import C\n",
                               "sub/c.py": "from .. import d\nC = 1\n", "d.py": "from .sub import C\n"})
    assert cycles(import_graph(root)) == [["pkg.d", "pkg.sub", "pkg.sub.c", "pkg.d"]]


def test_long_modules_and_functions_are_found(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(60))
    root = _package(tmp_path, {"ok.py": "def f():\n" + body[: body.index("x59")] + "\n",
                               "long_function.py": "def f():\n" + body,
                               "long_module.py": "x = 1\n" * 401})
    assert sorted(oversized(root)) == [("long_function.py", "f (line 1)", 61), ("long_module.py", "module", 401)]


# -- handprop ----------------------------------------------------------------------------------------------
def test_handprop_has_no_import_cycle():
    found = cycles(import_graph(SRC))
    assert not found, "import cycles (the imports must run one way):\n" + "\n".join(" -> ".join(c) for c in found)


def test_handprop_modules_and_functions_stay_short():
    found = [f"{rel}: {what}: {n} lines" for rel, what, n in oversized(SRC)]
    assert not found, f"over {MAX_MODULE_LINES} lines a module or {MAX_FUNCTION_LINES} a function:\n" + \
        "\n".join(found)


def test_every_module_is_read_subpackages_included():
    found = modules(SRC)
    assert {"handprop", "handprop.cli", "handprop.cli.train", "handprop.data.csvfile", "handprop.model"} <= set(found)
