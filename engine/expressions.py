"""Safe evaluation of gateway conditions and timer expressions (never eval/exec)."""

from __future__ import annotations

import ast
import operator as op
import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from simpleeval import (
    MAX_STRING_LENGTH,
    FeatureNotAvailable,
    NameNotDefined,
    NumberTooHigh,
    SimpleEval,
    safe_add,
    safe_mult,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.errors import ExpressionInvalid

MAX_EXPRESSION_LENGTH = 2000
MAX_DEPTH = 50  # the checker and simpleeval both recurse per level; this keeps them far from the stack limit
MAX_EXPONENT = 100
MAX_INT_BITS = 10_000  # the exponent limit alone still allows (10**100)**100-style growth


def _is_empty(x: Any) -> bool:
    """Return whether `x` is None, blank text or an empty collection."""
    if isinstance(x, str):
        return not x.strip()
    return x is None or (hasattr(x, "__len__") and len(x) == 0)


def _round(number: Any, ndigits: Any = None) -> Any:
    """round() with bounded digits, since round(5, -10**9) would compute 10**(10**9)."""
    if ndigits is not None and (not isinstance(ndigits, int) or abs(ndigits) > MAX_EXPONENT):
        raise ValueError(f"round() digits must be a whole number between -{MAX_EXPONENT} and {MAX_EXPONENT}")
    return round(number, ndigits)


def _power(a: Any, b: Any) -> Any:
    """a ** b with the exponent and the result size bounded."""
    if isinstance(b, (int, float)) and abs(b) > MAX_EXPONENT:
        raise NumberTooHigh(f"the exponent {b} is above the limit of {MAX_EXPONENT}")
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a.bit_length() * b > MAX_INT_BITS:
        raise NumberTooHigh("the power would be too large a number")
    return a**b


def _repeat(a: Any, b: Any) -> Any:
    """a * b, refusing to repeat a list of containers, whose printed form could outgrow any limit."""
    for seq in (a, b):
        if isinstance(seq, (list, tuple)) and any(isinstance(i, (list, tuple, dict, set, str)) for i in seq):
            raise FeatureNotAvailable("repeating a list of texts or lists is not allowed")
    return safe_mult(a, b)


def _mod(a: Any, b: Any) -> Any:
    """a % b, refusing %-formatting, which can pad text to any width ('%999999999s')."""
    if isinstance(a, (str, bytes)):
        raise FeatureNotAvailable("string formatting with % is not allowed")
    return a % b


ALLOWED_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "str": str, "int": int, "float": float, "bool": bool, "abs": abs, "min": min, "max": max,
    "round": _round,
    "lower": str.lower, "upper": str.upper, "strip": str.strip,
    "contains": lambda container, item: container is not None and item in container,
    "is_empty": _is_empty,
}

_OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: safe_add, ast.Sub: op.sub, ast.Mult: _repeat, ast.Div: op.truediv, ast.FloorDiv: op.floordiv,
    ast.Mod: _mod, ast.Pow: _power, ast.USub: op.neg, ast.UAdd: op.pos, ast.Not: op.not_,
    ast.Eq: op.eq, ast.NotEq: op.ne, ast.Lt: op.lt, ast.LtE: op.le, ast.Gt: op.gt, ast.GtE: op.ge,
    ast.In: lambda x, y: x in y, ast.NotIn: lambda x, y: x not in y,
    ast.Is: lambda x, y: x is y, ast.IsNot: lambda x, y: x is not y,
}
_SYMBOLS = {ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>",
            ast.MatMult: "@", ast.Invert: "~"}
_PHRASES = {ast.Lambda: "a lambda", ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
            ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression",
            ast.NamedExpr: "an assignment expression (:=)", ast.Starred: "star unpacking (*)",
            ast.Dict: "a dict literal", ast.Set: "a set literal", ast.Await: "await", ast.Yield: "yield"}
_LITERAL_TYPES = (str, int, float, bool, type(None))


def _short(text: str, limit: int = 60) -> str:
    """Return `text` cut to `limit` characters for messages."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fold(node: ast.AST) -> int | float | None:
    """Return the value of a pure-number literal expression (1, -2, 10**3), else None; may raise if huge."""
    if isinstance(node, ast.Constant):
        return node.value if type(node.value) in (int, float) else None
    if isinstance(node, ast.UnaryOp) and type(node.op) in (ast.USub, ast.UAdd):
        value = _fold(node.operand)
        return None if value is None else _OPERATORS[type(node.op)](value)
    if isinstance(node, ast.BinOp) and type(node.op) in (ast.Add, ast.Sub, ast.Mult, ast.Pow):
        left, right = _fold(node.left), _fold(node.right)
        if left is None or right is None:
            return None
        result = _OPERATORS[type(node.op)](left, right)
        if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
            raise NumberTooHigh("too large a number")
        return result
    return None


def _is_literal(node: ast.AST) -> bool:
    """Return whether `node` is a constant, a signed number, or a list/tuple of literals."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return all(map(_is_literal, node.elts))
    if isinstance(node, ast.UnaryOp) and type(node.op) in (ast.USub, ast.UAdd):
        return isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float)
    return isinstance(node, ast.Constant) and type(node.value) in _LITERAL_TYPES


def _is_index(node: ast.AST) -> bool:
    """Return whether `node` is a literal subscript: a text key, a whole number, or a slice of those."""
    if isinstance(node, ast.Slice):
        return all(p is None or _is_index(p) for p in (node.lower, node.upper, node.step))
    try:
        return type(node.value if isinstance(node, ast.Constant) else _fold(node)) in (str, int)
    except (ArithmeticError, NumberTooHigh):
        return False


def _depth(tree: ast.AST) -> int:
    """Return the nesting depth of `tree`, measured without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _first(nodes) -> str | None:
    """Return the first refusal among `nodes`, or None."""
    return next(filter(None, map(_refusal, nodes)), None)


def _arithmetic_refusal(node: ast.BinOp) -> str | None:
    """Return why a binary operation is refused before its operands are looked at, or None."""
    if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
        return "uses % string formatting, which is not allowed"
    if isinstance(node.op, ast.Pow):
        exponent = _fold(node.right)
        if exponent is None:
            snippet = _short(ast.unparse(node))
            return f"raises to a power that is not a number literal ('{snippet}'), which is not allowed"
        if abs(exponent) > MAX_EXPONENT:
            return f"raises to the power {_short(str(exponent))}, above the limit of {MAX_EXPONENT}"
    if isinstance(node.op, ast.Mult):
        for seq, count in ((node.left, node.right), (node.right, node.left)):
            size = len(seq.elts) if isinstance(seq, (ast.List, ast.Tuple)) else (
                len(seq.value) if isinstance(seq, ast.Constant) and isinstance(seq.value, str) else None)
            times = _fold(count)
            if size is not None and times is not None and times * size > MAX_STRING_LENGTH:
                return f"repeats a text or list {_short(str(times))} times, beyond the limit of {MAX_STRING_LENGTH}"
    return None


def _constant(node):
    if type(node.value) in _LITERAL_TYPES:
        return None
    return f"uses a {type(node.value).__name__} literal ({_short(ast.unparse(node))}), which is not allowed"


def _name(node):
    if node.id.startswith("_"):
        return f"uses the name '{node.id}', and names starting with '_' are not allowed"
    return None


def _call(node):
    if not isinstance(node.func, ast.Name):
        return _refusal(node.func) or f"calls '{_short(ast.unparse(node.func))}', which is not an allowed function"
    if node.func.id not in ALLOWED_FUNCTIONS:
        return f"calls '{node.func.id}', which is not an allowed function"
    if node.keywords:
        name = node.keywords[0].arg or "**"
        return f"passes the keyword argument '{name}' to '{node.func.id}', which is not allowed"
    return _first(node.args)


def _operator(node):
    if type(node.op) not in _OPERATORS:
        return f"uses the operator '{_SYMBOLS.get(type(node.op), type(node.op).__name__)}', which is not allowed"
    if isinstance(node, ast.UnaryOp):
        return _refusal(node.operand)
    try:
        return _arithmetic_refusal(node) or _first((node.left, node.right))
    except (ArithmeticError, NumberTooHigh, ValueError):
        return f"computes a number that is too large ('{_short(ast.unparse(node))}')"


def _compare(node):
    for operation, left, right in zip(node.ops, (node.left, *node.comparators[:-1]), node.comparators, strict=True):
        if isinstance(operation, (ast.Is, ast.IsNot)) and not any(
                isinstance(n, ast.Constant) and n.value is None for n in (left, right)):
            return "uses 'is' with something other than None, which is not allowed; use == instead"
    return _first((node.left, *node.comparators))


def _subscript(node):
    if not _is_index(node.slice):
        return f"uses a non-literal index ('[{_short(ast.unparse(node.slice))}]'), which is not allowed"
    return _refusal(node.value)


def _sequence(node):
    if _is_literal(node):
        return None
    return f"uses a {type(node).__name__.lower()} with an item that is not a literal, which is not allowed"


def _fstring(node):
    if all(isinstance(v, ast.Constant) for v in node.values):
        return None
    return "uses an f-string with a replacement field ({...}), which is not allowed"


_CHECKS = {
    ast.Constant: _constant,
    ast.Name: _name,
    ast.Attribute: lambda node: f"uses attribute access ('.{node.attr}'), which is not allowed",
    ast.Call: _call,
    ast.BinOp: _operator,
    ast.UnaryOp: _operator,
    ast.BoolOp: lambda node: _first(node.values),
    ast.Compare: _compare,
    ast.IfExp: lambda node: _first((node.test, node.body, node.orelse)),
    ast.Subscript: _subscript,
    ast.List: _sequence,
    ast.Tuple: _sequence,
    ast.JoinedStr: _fstring,
}


def _refusal(node: ast.AST) -> str | None:
    """Return why `node` is outside the safe subset, or None (the caller has bounded the tree's depth)."""
    check = _CHECKS.get(type(node))
    if check is None:
        return f"uses {_PHRASES.get(type(node), type(node).__name__)}, which is not allowed"
    return check(node)


@lru_cache(maxsize=4096)
def _verdict(text: str) -> tuple[str | None, ast.AST | None]:
    """Parse and vet `text` once; return (reason, parsed body), since the same conditions recur constantly."""
    stripped = text.strip()
    if not stripped:
        return "is empty", None
    if len(stripped) > MAX_EXPRESSION_LENGTH:
        return f"is too long ({len(stripped)} characters; the limit is {MAX_EXPRESSION_LENGTH})", None
    try:
        tree = ast.parse(stripped, mode="eval")  # parsing only builds a tree; nothing is compiled or run
    except SyntaxError as exc:
        column = (exc.offset or 0) + (len(text) - len(text.lstrip()) if (exc.lineno or 1) == 1 else 0)
        where = f"line {exc.lineno}, column {column}" if (exc.lineno or 1) > 1 else f"column {column}"
        return f"is not a valid expression: {exc.msg} at {where}", None
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"is not a valid expression: {exc}", None
    if _depth(tree.body) > MAX_DEPTH:
        return f"is nested too deeply (more than {MAX_DEPTH} levels)", None
    reason = _refusal(tree.body)
    return reason, None if reason else tree.body


def check_expression(text: str) -> str | None:
    """Return None if `text` is an expression the safe evaluator accepts, else a plain one-sentence English reason."""
    if not isinstance(text, str):
        return f"is not text but {type(text).__name__}"
    return _verdict(text)[0]


class _Evaluator(SimpleEval):
    """simpleeval narrowed to what check_expression admits, so it holds even if the check had a bug."""

    def __init__(self, data):
        super().__init__(operators=dict(_OPERATORS), functions=dict(ALLOWED_FUNCTIONS), names=data)
        for kind in (ast.Attribute, ast.Import, ast.Assign, ast.AugAssign, ast.Expr, ast.keyword, ast.FormattedValue):
            self.nodes.pop(kind, None)
        self.nodes[ast.List] = lambda node: [self._eval(e) for e in node.elts]
        self.nodes[ast.Tuple] = lambda node: tuple(self._eval(e) for e in node.elts)

    def _eval_name(self, node):
        if node.id.startswith("_"):
            raise FeatureNotAvailable(f"the name '{node.id}' is not allowed")
        try:
            return self.names[node.id]  # task data only: never builtins, never functions as values
        except (KeyError, TypeError):
            raise NameNotDefined(node.id, self.expr) from None

    def _eval_attribute(self, node):
        raise FeatureNotAvailable(f"attribute access ('.{node.attr}') is not allowed")

    def _eval_call(self, node):
        if not isinstance(node.func, ast.Name) or node.func.id not in self.functions or node.keywords:
            raise FeatureNotAvailable(f"calling '{_short(ast.unparse(node.func))}' is not allowed")
        return self.functions[node.func.id](*(self._eval(a) for a in node.args))


def _plain(exc: BaseException) -> str:
    """Return a short user-facing description of an evaluation failure."""
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, KeyError):
        return f"the key {_short(repr(exc.args[0]))} is missing" if exc.args else "a key is missing"
    if isinstance(exc, IndexError):
        return "an index is out of range"
    return _short(str(exc) or type(exc).__name__, 200)


def _run(tree: ast.AST, text: str, data) -> Any:
    """Evaluate an already-vetted tree; every failure becomes ExpressionInvalid."""
    shown = _short(repr(text), 80)
    try:
        return _Evaluator(data if data is not None else {}).eval(text, previously_parsed=tree)
    except NameNotDefined as exc:
        raise ExpressionInvalid(f"Expression {shown} failed: '{exc.name}' is not defined in the task data.",
                                expression=text, name=exc.name) from exc
    except Exception as exc:  # a raw error must never escape into the workflow
        raise ExpressionInvalid(f"Expression {shown} could not be evaluated: {_plain(exc)}.", expression=text) from exc


def evaluate(text: str, data: dict):
    """Evaluate `text` against task data safely; raise ExpressionInvalid naming the expression on any failure."""
    reason = check_expression(text)
    if reason:
        raise ExpressionInvalid(f"Expression {_short(repr(text), 80)} {reason}.", expression=text)
    return _run(_verdict(text)[1], text, data)


_NUM = r"[0-9]{1,9}(?:\.[0-9]{1,9})?"
# SpiffWorkflow takes a fraction only on the last component and never on years or months (it crashes), W never
# beside Y/M/D, and it loops once per month, so years and months stay small
_DURATION = (rf"(?![^/]*\.[0-9]+[A-Z][^/])P(?=[0-9T])(?:(?:[0-9]{{1,3}}Y)?(?:[0-9]{{1,4}}M)?(?:{_NUM}D)?|{_NUM}W)"
             rf"(?:T(?=[0-9])(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?")
_DATETIME = (r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
             r"(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?)?")
ISO_DURATION_RE = re.compile(rf"\A{_DURATION}\Z")
ISO_DATETIME_RE = re.compile(rf"\A{_DATETIME}\Z")
ISO_CYCLE_RE = re.compile(rf"\AR[0-9]{{0,9}}/(?:{_DATETIME}/{_DURATION}|{_DURATION}(?:/{_DATETIME})?)\Z")
_DURATION_LOOKALIKE = re.compile(r"PT?(?:[0-9][0-9A-Z.,]*)?", re.IGNORECASE)


def _real_date(value: str) -> bool:
    """Return whether a date-time text names a real moment (the regex alone accepts 2026-13-45)."""
    try:
        return bool(datetime.fromisoformat(value))
    except ValueError:
        return False


def timer_literal(text: str) -> str | None:
    """If `text` is a bare or quoted ISO-8601 timer value, return it unquoted; else None."""
    if not isinstance(text, str) or len(text) > 200:
        return None
    value = text.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    if ISO_DURATION_RE.match(value):
        return value
    if ISO_DATETIME_RE.match(value):
        return value if _real_date(value) else None
    if ISO_CYCLE_RE.match(value):
        return value if all(_real_date(p) for p in value.split("/")[1:] if not p.startswith("P")) else None
    return None


def timer_kind(literal: str) -> str | None:
    """Whether a timer literal (as timer_literal returns it) is a "duration", a "date" or a "cycle"."""
    for kind, pattern in (("duration", ISO_DURATION_RE), ("date", ISO_DATETIME_RE), ("cycle", ISO_CYCLE_RE)):
        if isinstance(literal, str) and pattern.match(literal):
            return kind
    return None


def check_timer(text: str) -> str | None:
    """Return None if `text` is a valid timer (ISO literal, or a safe expression), else a plain reason."""
    if timer_literal(text) is not None:
        return None
    if isinstance(text, str) and _DURATION_LOOKALIKE.fullmatch(text.strip()):
        # 'PT' or 'PT3X' would pass as a variable name, but the author meant a duration and mistyped it
        return ("looks like an ISO-8601 duration but is not a valid one "
                "(use capitals and the form P1Y2M3DT4H5M6S or P2W, e.g. PT3H, P2D, P1DT2H)")
    reason = check_expression(text)
    if reason is None or reason == "is empty":
        return reason
    return f"is not a valid ISO-8601 duration, date or cycle, and as an expression it {reason}"


def evaluate_timer(text: str, data: dict) -> str:
    """Return the ISO-8601 text a timer expression stands for (a literal as-is, else its safe evaluation)."""
    literal = timer_literal(text)
    if literal is not None:
        return literal
    reason = check_timer(text)
    if reason:
        raise ExpressionInvalid(f"Timer {_short(repr(text), 80)} {reason}.", expression=text)
    result = evaluate(text, data)
    literal = timer_literal(result) if isinstance(result, str) else None
    if literal is None:
        raise ExpressionInvalid(f"Timer {_short(repr(text), 80)} evaluated to {_short(repr(result))}, "
                                "which is not a valid ISO-8601 duration, date or cycle.", expression=text)
    return literal


_NO_SCRIPTS = "Scripts are not allowed: Alur never executes script code; use a form or a gateway condition instead."
_NO_SERVICES = "Service calls are not allowed: Alur never calls services from a diagram."


class _SafeEnvironment(BasePythonScriptEngineEnvironment):
    """Environment for the SpiffWorkflow paths that bypass the engine (process completion, message correlation)."""

    def evaluate(self, expression, context, external_context=None):
        return evaluate(expression, {**(external_context or {}), **(context or {})})

    def execute(self, script, context, external_context=None):
        raise ExpressionInvalid(_NO_SCRIPTS)

    def call_service(self, context, **kwargs):
        raise ExpressionInvalid(_NO_SERVICES)


def _bpmn_id(task) -> str | None:
    """Return the BPMN id of `task`'s spec, if it has one."""
    return getattr(getattr(task, "task_spec", None), "bpmn_id", None)


class SafeScriptEngine(PythonScriptEngine):
    """SpiffWorkflow script engine that evaluates with the safe evaluator and never executes scripts."""

    def __init__(self):
        # SpiffWorkflow also calls script_engine.environment.evaluate directly, so the environment must be safe too
        super().__init__(environment=_SafeEnvironment())

    def validate(self, expression):
        reason = None if timer_literal(expression) is not None else check_expression(expression)
        if reason:
            raise ExpressionInvalid(f"Expression {_short(repr(expression), 80)} {reason}.", expression=expression)

    def evaluate(self, task, expression, external_context=None):
        # SpiffWorkflow evaluates timer expressions here too, and editors write PT3H unquoted
        literal = timer_literal(expression)
        if literal is not None:
            return literal
        try:
            return evaluate(expression, {**(external_context or {}), **(getattr(task, "data", None) or {})})
        except ExpressionInvalid as exc:
            raise ExpressionInvalid(exc.message, **{**exc.context, "task": _bpmn_id(task)}) from exc

    def execute(self, task, script, external_context=None):
        raise ExpressionInvalid(_NO_SCRIPTS, task=_bpmn_id(task))

    def call_service(self, task, **kwargs):
        raise ExpressionInvalid(_NO_SERVICES, task=_bpmn_id(task))
