"""The shape of the collection's Python, read with `ast` (nothing is imported or run): no function in
plugins/ longer than MAX_LINES, and type hints on every public function and method of module_utils."""

import ast
import fnmatch

from paths import REPO

PLUGINS = REPO / "plugins"
MODULE_UTILS = PLUGINS / "module_utils"
# A function's lines, from its `def` to its last line, docstring and comments included.
MAX_LINES = 60
# Not held to type hints: none (uwsgi_validate*.py, split by concept for issue 23, is hinted too).
UNHINTED = ()
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def parsed(path):
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def too_long(tree):
    """(line, name, length) of each function in `tree`, nested ones and methods too, longer than MAX_LINES."""
    return [(node.lineno, node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, FUNCTIONS) and node.end_lineno - node.lineno + 1 > MAX_LINES]


def unhinted(function, method=False):
    """The parameters of `function` without a type hint, and 'return' when it has none. A method's
    first parameter (self, cls) needs none, unless it is a staticmethod."""
    arguments = function.args
    static = any(isinstance(decorator, ast.Name) and decorator.id == "staticmethod"
                 for decorator in function.decorator_list)
    positional = (arguments.posonlyargs + arguments.args)[1 if method and not static else 0:]
    parameters = positional + [arguments.vararg] + arguments.kwonlyargs + [arguments.kwarg]
    missing = [parameter.arg for parameter in parameters if parameter is not None and parameter.annotation is None]
    return missing + (["return"] if function.returns is None else [])


def public_functions(tree):
    """(qualified name, node, is a method) of the module's public functions, and of the public methods
    (and __init__) of its public classes."""
    for node in tree.body:
        if isinstance(node, FUNCTIONS) and not node.name.startswith("_"):
            yield node.name, node, False
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for member in node.body:
                if isinstance(member, FUNCTIONS) and (not member.name.startswith("_") or member.name == "__init__"):
                    yield "%s.%s" % (node.name, member.name), member, True


def test_no_function_in_plugins_is_longer_than_60_lines():
    files = sorted(PLUGINS.rglob("*.py"))
    assert len(files) > 20
    found = ["%s:%d %s is %d lines" % (path.relative_to(REPO), line, name, length)
             for path in files for line, name, length in too_long(parsed(path))]
    assert found == [], "longer than %d lines (split it into named steps):\n%s" % (MAX_LINES, "\n".join(found))


def test_the_length_rule_sees_nested_functions_and_methods():
    tree = ast.parse("class A:\n    def f(self):\n        def g():\n%s        return g\n" % ("            pass\n" * 60))
    assert [name for _line, name, _length in too_long(tree)] == ["f", "g"]


def test_every_public_function_of_module_utils_has_type_hints():
    files = [path for path in sorted(MODULE_UTILS.glob("*.py"))
             if not any(fnmatch.fnmatch(path.name, pattern) for pattern in UNHINTED)]
    assert len(files) > 10
    found = []
    for path in files:
        for name, function, method in public_functions(parsed(path)):
            missing = unhinted(function, method)
            if missing:
                found.append("%s:%d %s: %s" % (path.relative_to(REPO), function.lineno, name, ", ".join(missing)))
    assert found == [], "public functions without type hints (parameters, return):\n%s" % "\n".join(found)


def test_the_hint_rule_reads_parameters_methods_and_returns():
    tree = ast.parse(
        "def f(a: int, *rest, key=1, **more) -> None: ...\n"
        "def _private(a): ...\n"
        "class C:\n"
        "    def __init__(self, a: int): ...\n"
        "    def m(self, b: str) -> str: ...\n"
        "    @staticmethod\n"
        "    def s(c) -> int: ...\n"
        "    def _hidden(self, d): ...\n"
        "class _Private:\n"
        "    def m(self, e): ...\n")
    assert {name: unhinted(node, method) for name, node, method in public_functions(tree)} == {
        "f": ["rest", "key", "more"], "C.__init__": ["return"], "C.m": [], "C.s": ["c"]}
