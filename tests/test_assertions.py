"""Every test asserts an outcome: a static scan of the suite (it runs in CI with the rest).

A test function passes the scan when its body, or a helper it calls, contains an `assert`
on something that is not a constant, a `pytest.raises` / `pytest.warns` block or call, a
`pytest.fail`, or a call to an `assert*` function (`np.testing.assert_allclose`). Helpers are functions defined anywhere under tests/ (module functions,
methods, nested functions), followed transitively through the calls they make; a call is
resolved by name within its module, through `from tests... import name`, or as a method of a
class defined under tests/. Nothing is allowlisted: a test that only runs code fails here.

A second scan pins how exceptions are caught: `pytest.raises` of a broad type (a contract
revert, `Exception`) must either give `match=` or read the caught error afterwards (its
`.name`, `.value`, ...), so a revert for the wrong reason cannot pass.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
BROAD_EXCEPTIONS = {"ContractRevert", "Exception", "BaseException", "ChainError", "RiskAgentError"}


@dataclass
class Module:
    name: str  # dotted, e.g. tests.chain.conftest
    path: Path
    tree: ast.Module
    functions: dict[str, list[ast.AST]] = field(default_factory=dict)  # every def in the module, by name
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)  # local name -> (module, name)


def _is_pytest_call(node: ast.AST, names: set[str]) -> bool:
    """`pytest.raises(...)` / `raises(...)` (imported from pytest) for a name in `names`."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "pytest":
        return func.attr in names
    return isinstance(func, ast.Name) and func.id in names and func.id != "fail"


def _is_constant_assert(node: ast.Assert) -> bool:
    """`assert True`, `assert 1`, `assert "text"`: an assert that cannot fail."""
    return isinstance(node.test, ast.Constant) and bool(node.test.value)


def asserts_directly(function: ast.AST) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Assert) and not _is_constant_assert(node):
            return True
        if _is_pytest_call(node, {"raises", "warns", "fail", "deprecated_call"}):
            return True
        if isinstance(node, ast.Call) and _call_name(node).startswith("assert"):  # np.testing.assert_allclose, ...
            return True
    return False


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def called_names(function: ast.AST) -> set[tuple[str | None, str]]:
    """(qualifier, name) of every call: (None, f) for f(...), ("x", f) for x.f(...)."""
    calls = set()
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            calls.add((None, func.id))
        elif isinstance(func, ast.Attribute):
            base = func.value
            calls.add((base.id if isinstance(base, ast.Name) else "", func.attr))
    return calls


def load_modules(root: Path = TESTS_DIR) -> dict[str, Module]:
    modules = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).with_suffix("")
        name = ".".join(relative.parts)
        module = Module(name, path, ast.parse(path.read_text(), filename=str(path)))
        for node in ast.walk(module.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                module.functions.setdefault(node.name, []).append(node)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    module.imports[alias.asname or alias.name] = (node.module, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    module.imports[alias.asname or alias.name] = (alias.name, "")
        modules[name] = module
    return modules


@dataclass
class Scan:
    modules: dict[str, Module]
    methods: dict[str, list[tuple[Module, ast.AST]]] = field(default_factory=dict)
    _memo: dict[int, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for module in self.modules.values():
            for node in ast.walk(module.tree):
                if isinstance(node, ast.ClassDef):
                    for item in node.body:
                        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                            self.methods.setdefault(item.name, []).append((module, item))

    def resolve(self, module: Module, qualifier: str | None, name: str) -> list[tuple[Module, ast.AST]]:
        if qualifier is None:
            if name in module.functions:
                return [(module, f) for f in module.functions[name]]
            source = module.imports.get(name)
            if source and source[0] in self.modules:
                target = self.modules[source[0]]
                return [(target, f) for f in target.functions.get(source[1], [])]
            return []
        imported = module.imports.get(qualifier)
        if imported and not imported[1] and imported[0] in self.modules:  # import tests.x as q; q.f()
            target = self.modules[imported[0]]
            return [(target, f) for f in target.functions.get(name, [])]
        if imported and imported[1] and f"{imported[0]}.{imported[1]}" in self.modules:  # from tests.x import m; m.f()
            target = self.modules[f"{imported[0]}.{imported[1]}"]
            return [(target, f) for f in target.functions.get(name, [])]
        return list(self.methods.get(name, []))  # obj.method(): any method of that name defined in tests/

    def asserts(self, module: Module, function: ast.AST, visiting: frozenset[int] = frozenset()) -> bool:
        key = id(function)
        if key in self._memo:
            return self._memo[key]
        if key in visiting:
            return False
        result = asserts_directly(function) or any(
            self.asserts(target_module, target, visiting | {key})
            for qualifier, name in called_names(function)
            for target_module, target in self.resolve(module, qualifier, name)
        )
        if not visiting or result:
            self._memo[key] = result
        return result


def collected_tests(module: Module) -> list[ast.AST]:
    if not module.path.name.startswith("test_"):
        return []
    found = []
    for node in module.tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            found.append(node)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            found += [item for item in node.body
                      if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test")]
    return found


def unasserted_tests(root: Path = TESTS_DIR) -> list[str]:
    scan = Scan(load_modules(root))
    missing = []
    for module in scan.modules.values():
        for function in collected_tests(module):
            if not scan.asserts(module, function):
                missing.append(f"{module.path.relative_to(root.parent)}:{function.lineno} {function.name}")
    return missing


def _raises_type(call: ast.Call) -> str | None:
    if not call.args:
        return None
    first = call.args[0]
    if isinstance(first, ast.Name):
        return first.id
    if isinstance(first, ast.Attribute):
        return first.attr
    return None


def broad_raises_unchecked(root: Path = TESTS_DIR) -> list[str]:
    """`with pytest.raises(<broad type>) [as x]:` with no `match=` and no later use of `x`."""
    found = []
    for module in load_modules(root).values():
        for function in ast.walk(module.tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if not isinstance(node, ast.With | ast.AsyncWith):
                    continue
                for item in node.items:
                    call = item.context_expr
                    if not (_is_pytest_call(call, {"raises"}) and _raises_type(call) in BROAD_EXCEPTIONS):
                        continue
                    if any(k.arg == "match" for k in call.keywords):
                        continue
                    bound = item.optional_vars.id if isinstance(item.optional_vars, ast.Name) else None
                    after = [n for n in ast.walk(function) if getattr(n, "lineno", 0) > node.end_lineno]
                    if bound and any(isinstance(n, ast.Name) and n.id == bound for n in after):
                        continue
                    found.append(f"{module.path.relative_to(root.parent)}:{node.lineno} {function.name} "
                                 f"catches any {_raises_type(call)} without checking which")
    return found


def test_every_test_asserts_an_outcome():
    assert unasserted_tests() == []


def test_broad_exceptions_are_checked_by_name():
    assert broad_raises_unchecked() == []


# ------------------------------------------------------------------ the scan itself can fail

SAMPLE_HELPERS = '''
import pytest

def expect_revert(action, name):
    with pytest.raises(Exception) as raised:
        action()
    assert raised.value.name == name

def relays(action):
    return expect_revert(action, "X")

def runs_only(action):
    action()

class Harness:
    def check(self, value):
        assert value == 1
'''

SAMPLE_TESTS = '''
import pytest
from tests.helpers_sample import relays, runs_only
from tests import helpers_sample

def test_plain_assert():
    assert 1 + 1 == 2

def test_constant_assert_is_not_an_outcome():
    assert True

def test_only_runs():
    runs_only(print)

def test_through_a_helper_two_calls_deep():
    relays(print)

def test_through_a_module_attribute():
    helpers_sample.expect_revert(print, "X")

def test_through_a_method(harness):
    harness.check(1)

def test_numpy_assertion():
    np.testing.assert_allclose([1.0], [1.0])

def test_raises_only():
    with pytest.raises(ValueError, match="bad"):
        int("bad")

def test_bare_revert():
    with pytest.raises(Exception):
        int("bad")

class TestGrouped:
    def test_nothing(self):
        x = 1
'''


def test_the_scan_flags_exactly_the_tests_that_assert_nothing(tmp_path):
    root = tmp_path / "tests"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "helpers_sample.py").write_text(SAMPLE_HELPERS)
    (root / "test_sample.py").write_text(SAMPLE_TESTS)
    flagged = [entry.split(" ")[1] for entry in unasserted_tests(root)]
    assert flagged == ["test_constant_assert_is_not_an_outcome", "test_only_runs", "test_nothing"]
    unchecked = broad_raises_unchecked(root)
    assert [entry.split(" ")[1] for entry in unchecked] == ["test_bare_revert"]
