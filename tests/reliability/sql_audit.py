"""A static audit of the SQL text the stores send: is any of it built from run-time values?

``untrusted_sql(source)`` finds every call ``<anything>.execute(…)``, ``.executemany(…)`` and
``.copy(…)`` with a first argument (the SQL) in a module and traces that argument back through
the module. The SQL is *trusted* when it is built only from:

* string literals, and names, attributes (``self.x``), tuple elements and function results
  whose every binding in the module is itself trusted (module constants, locals, closures,
  list ``append``s, ``+=``, ``return`` values, parameters whose every call site in the module
  passes a trusted argument);
* joins of those: f-strings, ``+``, ``%``, ``str.join`` and ``.format`` whose parts are all
  trusted, conditional expressions of trusted branches, subscripts of a trusted container
  (``ORDER_BY[sort]`` picks one of its constant values, whatever the key);
* ``int(…)`` and ``len(…)`` (digits cannot carry SQL);
* psycopg's ``sql.Identifier(…)`` and ``sql.Literal(…)`` (psycopg quotes what they hold, so
  they may hold anything), and ``sql.SQL(x)`` / ``.format`` / ``.join`` of trusted parts.

Anything else (a parameter some call site fills from input, an attribute set from input, a
call into another module) is untrusted, and reported with its line. What it proves: no value
known only at run time reaches SQL *text* except inside psycopg's quoting; values travel only
as query parameters. What it assumes: names are bound by ordinary Python statements in the
module (no ``setattr``/``globals()`` tricks), and functions are called by their plain or
``self.`` name within the module. A store split over modules (``postgres.py`` and its
``postgres_*.py``) is audited as one module (``sql_sinks_of_modules``).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator

SQL_SINKS = ("execute", "executemany", "copy")
QUOTING = ("Identifier", "Literal")  # psycopg sql.* classes that quote their contents
DIGITS = ("int", "len")
COMPOSING = ("join", "format", "SQL", "strip", "upper", "lower")  # results made of their inputs

Scope = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.Module


class _Audit:
    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.parent: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node
        # Bindings: (scope, name) -> expressions assigned to it. Tuple targets record the
        # position so ``a, b = f()`` binds a to element 0 of f()'s value.
        self.bindings: dict[tuple[ast.AST, str], list[tuple[ast.expr, int | None]]] = defaultdict(list)
        self.attributes: dict[str, list[ast.expr]] = defaultdict(list)  # self.X = …
        self.functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = defaultdict(list)
        self.calls: dict[str, list[ast.Call]] = defaultdict(list)
        self.comprehension_targets: dict[tuple[ast.AST, str], ast.expr] = {}
        self._collect()
        self._busy: set[tuple[int, int | None]] = set()

    # --- collecting bindings ----------------------------------------------------------------

    def scope_of(self, node: ast.AST) -> Scope:
        current = self.parent.get(node)
        while current is not None:
            if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.Module):
                return current
            current = self.parent.get(current)
        return self.tree

    def _bind(self, target: ast.expr, value: ast.expr, position: int | None = None) -> None:
        if isinstance(target, ast.Name):
            self.bindings[self.scope_of(target), target.id].append((value, position))
        elif isinstance(target, ast.Tuple | ast.List):
            for index, element in enumerate(target.elts):
                self._bind(element, value, index)
        elif (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
        ):
            self.attributes[target.attr].append(value if position is None else ast.Tuple(elts=[]))

    def _collect(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
                self._bind(node.target, node.value)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions[node.name].append(node)
            elif isinstance(node, ast.Call):
                name = _called_name(node.func)
                if name:
                    self.calls[name].append(node)
                # list.append / extend on a local list binds more elements to it.
                func = node.func
                if (
                    isinstance(func, ast.Attribute)
                    and func.attr in ("append", "extend", "insert")
                    and isinstance(func.value, ast.Name)
                    and node.args
                ):
                    element = node.args[-1]
                    wrapped = element if func.attr == "extend" else ast.List(elts=[element])
                    self.bindings[self._scope_binding(func.value), func.value.id].append((wrapped, None))
            elif isinstance(node, ast.comprehension):
                for name in ast.walk(node.target):
                    if isinstance(name, ast.Name):
                        self.comprehension_targets[self.parent[node], name.id] = node.iter
            elif isinstance(node, ast.For):
                self._bind(node.target, ast.Subscript(value=node.iter, slice=ast.Constant(0)))

    def _scope_binding(self, name: ast.Name) -> ast.AST:
        """The scope that binds ``name`` as seen from where it is used (closures included)."""
        scope: ast.AST | None = self.scope_of(name)
        while scope is not None:
            if (scope, name.id) in self.bindings or self._is_parameter(scope, name.id):
                return scope
            scope = None if isinstance(scope, ast.Module) else self.scope_of(scope)
        return self.tree

    @staticmethod
    def _is_parameter(scope: ast.AST, name: str) -> bool:
        if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return False
        arguments = scope.args
        names = [a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]]
        names += [a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None]
        return name in names

    # --- trust ------------------------------------------------------------------------------

    def trusted(self, node: ast.expr, position: int | None = None) -> bool:
        key = (id(node), position)
        if key in self._busy:
            return True  # a cycle adds nothing new: trust rests on the other bindings
        self._busy.add(key)
        try:
            return self._trusted(node, position)
        finally:
            self._busy.discard(key)

    def _trusted(self, node: ast.expr, position: int | None) -> bool:
        if position is not None:
            if isinstance(node, ast.Tuple | ast.List):
                return position < len(node.elts) and self.trusted(node.elts[position])
            if isinstance(node, ast.Call):
                return self._call_result(node, position)
            if isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
                return self.trusted(node)  # the whole value trusted: so is every element
            return False
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str | int | float | bool | type(None))
        if isinstance(node, ast.JoinedStr):
            return all(self.trusted(v) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return self.trusted(node.value)
        if isinstance(node, ast.BinOp):
            return self.trusted(node.left) and self.trusted(node.right)
        if isinstance(node, ast.IfExp):
            return self.trusted(node.body) and self.trusted(node.orelse)
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return all(self.trusted(e) for e in node.elts)
        if isinstance(node, ast.Dict):
            return all(v is not None and self.trusted(v) for v in node.values)
        if isinstance(node, ast.Starred):
            return self.trusted(node.value)
        if isinstance(node, ast.Subscript):
            return self.trusted(node.value)  # an element of a trusted container
        if isinstance(node, ast.GeneratorExp | ast.ListComp | ast.SetComp):
            return self.trusted(node.elt) and all(self.trusted(g.iter) for g in node.generators)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                values = self.attributes.get(node.attr, [])
                return bool(values) and all(self.trusted(v) for v in values)
            return False
        if isinstance(node, ast.Call):
            return self._call_result(node, None)
        return False

    def _name(self, node: ast.Name) -> bool:
        scope: ast.AST | None = self.scope_of(node)
        # Comprehension variables range over their (trusted or not) iterable.
        walker: ast.AST | None = node
        while walker is not None and not isinstance(walker, ast.FunctionDef | ast.Module):
            if (walker, node.id) in self.comprehension_targets:
                return self.trusted(self.comprehension_targets[walker, node.id])
            walker = self.parent.get(walker)
        while scope is not None:
            bound = self.bindings.get((scope, node.id))
            if self._is_parameter(scope, node.id):
                assert isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                return self._parameter(scope, node.id) and all(self.trusted(v, p) for v, p in bound or [])
            if bound:
                return all(self.trusted(value, position) for value, position in bound)
            scope = None if isinstance(scope, ast.Module) else self.scope_of(scope)
        return False

    def _parameter(self, function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, name: str) -> bool:
        """Trusted if every call site of ``function`` in the module passes a trusted value."""
        if isinstance(function, ast.Lambda):
            return False
        arguments = function.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        annotation = next((a.annotation for a in every if a.arg == name), None)
        if annotation is not None and _called_name(annotation) in QUOTING:
            return True  # typed sql.Identifier / sql.Literal (mypy --strict holds callers to it)
        positional = [a.arg for a in [*arguments.posonlyargs, *arguments.args]]
        is_method = bool(positional) and positional[0] == "self"
        sites = self.calls.get(function.name, [])
        if not sites:
            return False
        if arguments.vararg is not None and arguments.vararg.arg == name:
            return all(self.trusted(a) for call in sites for a in call.args)
        if arguments.kwarg is not None and arguments.kwarg.arg == name:
            named = {a.arg for a in every}
            return all(self.trusted(k.value) for call in sites for k in call.keywords if k.arg not in named)
        for call in sites:
            offset = 1 if is_method and isinstance(call.func, ast.Attribute) else 0
            given: ast.expr | None = None
            for keyword in call.keywords:
                if keyword.arg == name:
                    given = keyword.value
                elif keyword.arg is None:  # **kwargs: cannot tell
                    return False
            if given is None and name in positional:
                index = positional.index(name) - offset
                if any(isinstance(a, ast.Starred) for a in call.args[: index + 1]):
                    return False
                if index < len(call.args):
                    given = call.args[index]
            if given is None:
                default = _default(function, name)
                if default is None:
                    continue  # a **kwargs-only or missing argument: nothing passed here
                given = default
            if not self.trusted(given):
                return False
        return True

    def _call_result(self, call: ast.Call, position: int | None) -> bool:
        func = call.func
        name = _called_name(func)
        arguments_trusted = all(self.trusted(a) for a in call.args) and all(
            self.trusted(k.value) for k in call.keywords
        )
        if name in QUOTING:
            return True
        if name in DIGITS and isinstance(func, ast.Name):
            return True
        if name == "map" and call.args and _called_name(call.args[0]) in QUOTING:
            return True
        if isinstance(func, ast.Attribute) and func.attr in (
            "join",
            "format",
            "SQL",
            "strip",
            "upper",
            "lower",
        ):
            # str/sql.SQL methods and sql.SQL(): the result is made of the receiver and arguments.
            receiver_trusted = func.attr == "SQL" or self.trusted(func.value)
            return receiver_trusted and arguments_trusted
        if name == "SQL":
            return arguments_trusted
        # A function of this module: trusted if every value it returns is.
        functions = self.functions.get(name or "", [])
        if not functions:
            return False
        returns = [
            node for function in functions for node in ast.walk(function) if isinstance(node, ast.Return)
        ]
        return bool(returns) and all(r.value is not None and self.trusted(r.value, position) for r in returns)

    def sinks(self) -> Iterator[ast.Call]:
        for node in ast.walk(self.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SQL_SINKS
                and node.args
            ):
                yield node


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _default(function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> ast.expr | None:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    with_defaults = positional[len(positional) - len(arguments.defaults) :]
    for argument, default in zip(with_defaults, arguments.defaults, strict=True):
        if argument.arg == name:
            return default
    for argument, kw_default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        if argument.arg == name:
            return kw_default
    return None


def sql_sinks(source: str) -> list[tuple[int, str, bool]]:
    """Every SQL call in ``source``: (line, the SQL argument as written, whether it is trusted)."""
    audit = _Audit(ast.parse(source))
    return [(call.lineno, ast.unparse(call.args[0]), audit.trusted(call.args[0])) for call in audit.sinks()]


def sql_sinks_of_modules(sources: dict[str, str]) -> list[tuple[str, int, str, bool]]:
    """As ``sql_sinks``, for a store split over several modules audited as one: their bodies
    are joined into one module, so a constant or helper one of them imports from another is
    traced to its definition (names are imported unaliased, as the stores do). Each row names
    the module its call is in: (module, line, SQL as written, trusted)."""
    trees = {name: ast.parse(source) for name, source in sources.items()}
    audit = _Audit(ast.Module(body=[node for tree in trees.values() for node in tree.body], type_ignores=[]))
    home = {id(node): name for name, tree in trees.items() for node in ast.walk(tree)}
    return [
        (home[id(call)], call.lineno, ast.unparse(call.args[0]), audit.trusted(call.args[0]))
        for call in audit.sinks()
    ]
