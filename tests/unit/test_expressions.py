"""Tests for engine.expressions: the safe evaluator for conditions and timers."""

from __future__ import annotations

import ast
from types import SimpleNamespace

import pytest
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine import expressions
from engine.errors import ExpressionInvalid
from engine.expressions import (
    ALLOWED_FUNCTIONS,
    ISO_CYCLE_RE,
    ISO_DATETIME_RE,
    ISO_DURATION_RE,
    SafeScriptEngine,
    check_expression,
    check_timer,
    evaluate,
    evaluate_timer,
    timer_literal,
)

DATA = {
    "keputusan": "Ya",
    "jumlah": 5,
    "status": "baru",
    "daftar": ["a", "b"],
    "pemohon": {"nama": "Sari", "umur": 30},
    "catatan": "  ",
    "kosong": None,
    "sla_duration": "P2D",
}


# --- typical SOP conditions ---------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('keputusan == "Ya"', True),
        ("keputusan == 'Tidak'", False),
        ('jumlah > 3 and status != "x"', True),
        ('"a" in daftar', True),
        ('"z" not in daftar', True),
        ("jumlah >= 5 or kosong is None", True),
        ("kosong is not None", False),
        ("not (jumlah < 3)", True),
        ("1 < jumlah <= 5", True),
        ('pemohon["umur"] >= 17', True),
        ("daftar[0] == 'a' and daftar[-1] == 'b'", True),
        ("daftar[0:1] == ['a']", True),
        ("jumlah * 2 + 1 - 3 / 3 // 1 % 4", 10.0),
        ("-jumlah + +1", -4),
        ("jumlah ** 2", 25),
        ('"besar" if jumlah > 3 else "kecil"', "besar"),
        ("keputusan in ('Ya', 'Setuju')", True),
        ("status in ['baru', 'lama']", True),
        ('f"abc" == "abc"', True),
        ("len(daftar) == 2", True),
        ("lower(keputusan) == 'ya' and upper(status) == 'BARU'", True),
        ("strip('  x ') == 'x'", True),
        ("contains(daftar, 'b') and not contains(kosong, 'b')", True),
        ("is_empty(catatan) and is_empty(kosong) and not is_empty(daftar)", True),
        ("int('7') + float('0.5') + abs(-1) + round(2.567, 1)", 11.1),
        ("min(daftar) == 'a' and max(3, jumlah) == 5", True),
        ("str(jumlah) == '5' and bool(jumlah)", True),
        ("True and None is None", True),
    ],
)
def test_typical_sop_conditions_evaluate_against_task_data(text, expected):
    assert check_expression(text) is None
    result = evaluate(text, DATA)
    assert result == pytest.approx(expected) if isinstance(expected, float) else result == expected


def test_allowed_functions_are_exactly_the_documented_pure_ones():
    assert set(ALLOWED_FUNCTIONS) == {
        "len", "str", "int", "float", "bool", "abs", "min", "max", "round",
        "lower", "upper", "strip", "contains", "is_empty",
    }


def test_a_name_missing_from_task_data_is_reported_by_name():
    with pytest.raises(ExpressionInvalid, match=r"'persetujuan' is not defined") as info:
        evaluate('persetujuan == "Ya"', DATA)
    assert info.value.context["expression"] == 'persetujuan == "Ya"'
    assert info.value.context["name"] == "persetujuan"


def test_short_circuit_skips_a_missing_name_like_python_does():
    assert evaluate("jumlah > 100 and tidak_ada == 1", DATA) is False


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("jumlah / 0", "division by zero"),
        ("keputusan > 3", "not supported"),
        ('pemohon["alamat"]', "the key 'alamat' is missing"),
        ("daftar[5]", "an index is out of range"),
        ("int('abc')", "invalid literal"),
        ("lower(jumlah)", "lower"),
        ("round(5, -10**9)", "round() digits"),
        ("(10**100)**100", "too large"),
        ("daftar * 100000", "repeating a list of texts or lists is not allowed"),
        ("[1] * (jumlah * 100000)", "long"),
        ("keputusan + 1", "can only concatenate"),
        ("min()", "min"),
    ],
)
def test_runtime_failures_become_expression_invalid_with_a_plain_message(text, fragment):
    assert check_expression(text) is None
    with pytest.raises(ExpressionInvalid) as info:
        evaluate(text, DATA)
    assert fragment in str(info.value)
    assert text in str(info.value)
    assert info.value.context["expression"] == text


def test_evaluate_accepts_missing_data_as_empty():
    assert evaluate("1 + 1", None) == 2
    with pytest.raises(ExpressionInvalid, match="'x' is not defined"):
        evaluate("x", None)


# --- refusals and their reasons ------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "is empty"),
        ("   \n ", "is empty"),
        ("__import__('os')", "calls '__import__', which is not an allowed function"),
        ("os.system('id')", "uses attribute access ('.system'), which is not allowed"),
        ("jumlah.real", "uses attribute access ('.real'), which is not allowed"),
        ("keputusan ==", "is not a valid expression: invalid syntax at column"),
        ("x = 1", "is not a valid expression"),
        ("import os", "is not a valid expression"),
        ("1; 2", "is not a valid expression"),
        ("_secret", "uses the name '_secret', and names starting with '_' are not allowed"),
        ("(lambda: 1)()", "uses a lambda, which is not allowed"),
        ("[x for x in daftar]", "uses a list comprehension, which is not allowed"),
        ("{x for x in daftar}", "uses a set comprehension, which is not allowed"),
        ("{x: 1 for x in daftar}", "uses a dict comprehension, which is not allowed"),
        ("any(x for x in daftar)", "calls 'any', which is not an allowed function"),
        ("len(x for x in daftar)", "uses a generator expression, which is not allowed"),
        ("(y := 1)", "uses an assignment expression (:=), which is not allowed"),
        ("len(*daftar)", "uses star unpacking (*), which is not allowed"),
        ("{'a': 1}", "uses a dict literal, which is not allowed"),
        ("{1, 2}", "uses a set literal, which is not allowed"),
        ('f"{keputusan}"', "uses an f-string with a replacement field ({...}), which is not allowed"),
        ("2 ** 101", "raises to the power 101, above the limit of 100"),
        ("2 ** jumlah", "raises to a power that is not a number literal"),
        ("'a' * 10**10", "repeats a text or list 10000000000 times"),
        ("1 << 2", "uses the operator '<<', which is not allowed"),
        ("~1", "uses the operator '~', which is not allowed"),
        ("jumlah & 1", "uses the operator '&', which is not allowed"),
        ('"%s" % keputusan', "uses % string formatting, which is not allowed"),
        ("jumlah is 5", "uses 'is' with something other than None"),
        ("daftar[jumlah]", "uses a non-literal index ('[jumlah]'), which is not allowed"),
        ("[jumlah, 1]", "uses a list with an item that is not a literal, which is not allowed"),
        ("max(daftar, key=len)", "passes the keyword argument 'key' to 'max', which is not allowed"),
        ("b'abc'", "uses a bytes literal"),
        ("1j", "uses a complex literal"),
        ("...", "uses a ellipsis literal"),
        ("daftar[0]()", "calls 'daftar[0]', which is not an allowed function"),
        ("-".join(["1"] * 60), "is nested too deeply"),
        ("x" * 2001, "is too long (2001 characters; the limit is 2000)"),
    ],
)
def test_each_refusal_kind_names_the_offending_thing(text, reason):
    got = check_expression(text)
    assert got is not None and reason in got, got
    with pytest.raises(ExpressionInvalid) as info:
        evaluate(text, DATA)
    assert reason in str(info.value)


def test_a_syntax_error_reason_gives_the_column():
    assert check_expression("jumlah >> > 3") == "is not a valid expression: invalid syntax at column 11"


def test_check_expression_refuses_non_text():
    assert check_expression(None) == "is not text but NoneType"
    with pytest.raises(ExpressionInvalid):
        evaluate(123, DATA)


def test_verdicts_are_cached_per_text():
    expressions._verdict.cache_clear()
    for _ in range(1000):
        evaluate('keputusan == "Ya"', DATA)
    info = expressions._verdict.cache_info()
    assert info.misses == 1 and info.hits >= 999


# --- sandbox escape payloads -------------------------------------------------------------------

ESCAPE_PAYLOADS = [
    "__import__('os').system('id')",
    "__import__('os')",
    "__import__('subprocess').check_output('id')",
    "().__class__.__bases__[0].__subclasses__()",
    "[].__class__.__mro__[1].__subclasses__()",
    "''.__class__.__mro__[-1].__subclasses__()",
    "True.__class__.__base__.__subclasses__()",
    "open('/etc/passwd').read()",
    "open('/etc/passwd')",
    "[x for x in ()]",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "(lambda: 1)()",
    "(lambda f=__import__: f)('os')",
    "getattr(1, '__class__')",
    "setattr(daftar, 'x', 1)",
    "'{0.__class__}'.format(1)",
    "'{0.__class__.__init__.__globals__}'.format(keputusan)",
    "str.format('{0.__class__}', 1)",
    "'{x.__class__}'.format_map(pemohon)",
    "eval('1')",
    "exec('1')",
    "ｅval('1')",
    "globals()",
    "locals()",
    "vars()",
    "dir()",
    "type(1)",
    "type(1).__subclasses__(type(1))",
    "9**9**9",
    "10**100**100",
    "'a'*10**10",
    "[1]*10**9",
    "compile('1','','eval')",
    "__builtins__",
    "__builtins__['eval']('1')",
    "__loader__.load_module('os')",
    "_secret",
    "len.__self__",
    "lower.__globals__",
    "max.__call__(1, 2)",
    "f\"{__import__('os').system('id')}\"",
    "f'{keputusan!r:>999999999}'",
    "breakpoint()",
    "help()",
    "input()",
    "print(1)",
    "exit()",
    "memoryview(b'a')",
    "import os",
    "1; __import__('os')",
    "(x := __import__('os'))",
    "[*().__class__.__mro__]",
    "'%999999999s' % 1",
    "1 << 10**6",
    "().__reduce_ex__(2)",
    "daftar.pop()",
    "pemohon.clear()",
]


@pytest.mark.parametrize("payload", ESCAPE_PAYLOADS)
def test_known_sandbox_escape_payload_is_refused_by_the_check(payload):
    assert check_expression(payload) is not None


@pytest.mark.parametrize("payload", ESCAPE_PAYLOADS)
def test_known_sandbox_escape_payload_raises_expression_invalid_from_evaluate(payload):
    data = {**DATA, "daftar": ["a", "b"], "pemohon": {"nama": "Sari"}}
    with pytest.raises(ExpressionInvalid):
        evaluate(payload, data)
    assert data["daftar"] == ["a", "b"] and data["pemohon"] == {"nama": "Sari"}


def test_escape_payload_count_covers_the_brief():
    assert len(ESCAPE_PAYLOADS) >= 25


def _file_payloads(target):
    return [
        f"__import__('os').system('touch {target}')",
        f"open('{target}', 'w').write('x')",
        f"().__class__.__base__.__subclasses__()[0]('touch {target}')",
        f"exec(\"open('{target}', 'w')\")",
        f"f\"{{__import__('os').system('touch {target}')}}\"",
        f"[__import__('os').system('touch {target}') for _ in [1]]",
        f"(lambda: __import__('os').system('touch {target}'))()",
        f"PT3H if __import__('os').system('touch {target}') else PT1H",
    ]


def test_a_payload_that_would_create_a_file_runs_nothing(tmp_path):
    target = tmp_path / "pwned"
    engine = SafeScriptEngine()
    task = SimpleNamespace(data={}, task_spec=SimpleNamespace(bpmn_id="Gateway_1"))
    for payload in _file_payloads(target):
        with pytest.raises(ExpressionInvalid):
            evaluate(payload, {})
        with pytest.raises(ExpressionInvalid):
            engine.evaluate(task, payload)
        with pytest.raises(ExpressionInvalid):
            evaluate_timer(payload, {})
        with pytest.raises(ExpressionInvalid):
            engine.execute(task, payload)
    assert not target.exists()


@pytest.mark.parametrize(
    "payload",
    [
        "__import__('os').system('id')",
        "().__class__.__bases__[0].__subclasses__()",
        "'{0.__class__}'.format(1)",
        "getattr(1, '__class__')",
        "eval('1')",
        "open('/etc/passwd')",
        "type(1)",
        "__builtins__",
        "(lambda: 1)()",
        "f'{keputusan.__class__}'",
        "max(daftar, key=len)",
        "9 ** 9 ** 9",
        "'%999999999s' % 1",
    ],
)
def test_the_evaluator_alone_refuses_escapes_even_if_the_check_had_a_bug(payload):
    tree = ast.parse(payload, mode="eval").body
    with pytest.raises(ExpressionInvalid):
        expressions._run(tree, payload, dict(DATA))


def test_the_evaluator_never_returns_builtins_or_functions_for_a_name():
    tree = ast.parse("len", mode="eval").body
    with pytest.raises(ExpressionInvalid, match="'len' is not defined"):
        expressions._run(tree, "len", {})


# --- timers -------------------------------------------------------------------------------

VALID_TIMERS = [
    "PT3H", "P2D", "PT5M", "P1DT2H", "PT0.5S", "P1W", "P1M", "P1Y", "P1Y2M3DT4H5M6S", "PT1H30M",
    "P0.5D", "PT90S", "P2W", "P1.5W", "P999Y", "P9999M", "P1DT0.5H", "P10D", "PT1M",
    "2026-11-21T08:00:00+07:00", "2026-11-21T08:00:00Z", "2026-11-21T08:00:00", "2026-11-21T08:00",
    "2026-11-21", "2026-11-21T08:00:00.250+07:00",
    "R3/PT1H", "R/PT1H", "R/2026-01-01T00:00:00Z/P1D", "R5/2026-01-01T08:00:00+07:00/PT12H",
    "R2/P1D/2026-12-31T00:00:00Z", "R0/PT1M",
]

INVALID_TIMERS = [
    "", "PT", "P", "3H", "T3H", "P1DT", "PT3", "P3", "pt3h", "PT3H + 1", "__import__('os')",
    "PT1.5H30M", "P1W2D", "P1.5DT2H", "2026-13-01", "2026-11-21T25:00:00Z", "2026-02-30",
    "R3", "R3/", "R3/PT1H/PT2H", "R/2026-01-01T00:00:00Z", "R/2026-01-01T00:00:00Z/2027-01-01T00:00:00Z",
    "RX/PT1H", "' PT3H '", "'PT3H\"", "PT3H PT3H", "P1DT2H3D", "PT-3H", "P" + "9" * 20 + "D",
    "P1.5Y", "P1.5M", "P1Y1.5M", "P9999Y", "P99999M",
]


@pytest.mark.parametrize("text", VALID_TIMERS)
def test_an_iso_timer_value_is_recognised_bare_quoted_and_padded(text):
    assert timer_literal(text) == text
    assert timer_literal(f"'{text}'") == text
    assert timer_literal(f'  "{text}" \n') == text
    assert check_timer(text) is None
    assert evaluate_timer(text, {}) == text


@pytest.mark.parametrize("text", INVALID_TIMERS)
def test_a_non_iso_text_is_not_a_timer_literal(text):
    assert timer_literal(text) is None


@pytest.mark.parametrize("text", VALID_TIMERS)
def test_spiffworkflow_parses_every_timer_literal_we_accept(text):
    value = timer_literal(text)
    if ISO_CYCLE_RE.match(value):
        cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(value)
        assert duration.total_seconds() > 0 or cycles == 0
    elif ISO_DURATION_RE.match(value):
        parsed = TimerEventDefinition.parse_iso_duration(value)
        assert TimerEventDefinition.get_timedelta_from_start(parsed).total_seconds() > 0
    else:
        assert ISO_DATETIME_RE.match(value)
        TimerEventDefinition.get_datetime(value)
    TimerEventDefinition.parse_time_or_duration(value.split("/")[-1])


def _all_durations():
    """Every combination of duration components, with a fraction on the last one or not."""
    date_parts, time_parts = ["1Y", "2M", "3D"], ["4H", "5M", "6S"]
    for mask in range(1, 64):
        chosen_date = [p for i, p in enumerate(date_parts) if mask >> i & 1]
        chosen_time = [p for i, p in enumerate(time_parts) if mask >> (i + 3) & 1]
        text = "P" + "".join(chosen_date) + ("T" + "".join(chosen_time) if chosen_time else "")
        yield text
        yield text[:-2] + text[-2] + ".5" + text[-1]


def test_spiffworkflow_parses_every_generated_duration_we_accept():
    accepted = [d for d in _all_durations() if timer_literal(d)]
    assert len(accepted) == 123  # all but a fraction on years or months, which SpiffWorkflow cannot compute
    for text in accepted:
        TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(text))
        TimerEventDefinition.parse_iso_recurring_interval(f"R2/{text}")


def test_durations_spiffworkflow_rejects_are_not_literals():
    for text in ["PT1.5H30M", "P1W2D", "P1DT", "PT"]:
        with pytest.raises(Exception, match="."):
            TimerEventDefinition.parse_iso_duration(text)
        assert timer_literal(text) is None


def test_a_timer_computed_from_task_data_is_allowed_and_evaluated():
    assert check_timer("sla_duration") is None
    assert evaluate_timer("sla_duration", DATA) == "P2D"
    assert evaluate_timer("'PT' + str(jumlah) + 'H'", DATA) == "PT5H"
    assert evaluate_timer("sla_duration if jumlah > 3 else 'PT1H'", DATA) == "P2D"


def test_a_timer_expression_yielding_a_non_iso_value_is_refused():
    with pytest.raises(ExpressionInvalid, match="evaluated to 5, which is not a valid ISO-8601"):
        evaluate_timer("jumlah", DATA)
    with pytest.raises(ExpressionInvalid, match="not a valid ISO-8601"):
        evaluate_timer("keputusan", DATA)


@pytest.mark.parametrize("text", ["PT", "P", "PT3X", "pt3h", "P1W2D", "PT1.5H30M"])
def test_a_mistyped_duration_is_refused_even_though_it_parses_as_a_name(text):
    assert "looks like an ISO-8601 duration" in check_timer(text)
    with pytest.raises(ExpressionInvalid, match="looks like an ISO-8601 duration"):
        evaluate_timer(text, {"PT": "PT1H", "P": "PT1H", "PT3X": "PT1H", "pt3h": "PT1H", "P1W2D": "P1D"})


def test_an_unsafe_timer_reason_mentions_both_iso_and_the_expression_problem():
    reason = check_timer("__import__('os').system('id')")
    assert reason.startswith("is not a valid ISO-8601 duration, date or cycle")
    assert "attribute access ('.system')" in reason
    assert check_timer("2026-13-01") .startswith("is not a valid ISO-8601 duration, date or cycle")
    assert check_timer("") == "is empty"


# --- SpiffWorkflow script engine ------------------------------------------------------------

def _task(data, bpmn_id="Gateway_Keputusan"):
    return SimpleNamespace(data=data, task_spec=SimpleNamespace(bpmn_id=bpmn_id))


def test_the_engine_passes_timer_literals_through_unevaluated():
    engine = SafeScriptEngine()
    for text in ["PT3H", "'PT3H'", "2026-11-21T08:00:00+07:00", "R3/PT1H"]:
        assert engine.evaluate(_task({}), text) == timer_literal(text)


def test_the_engine_evaluates_conditions_against_task_data_over_external_context():
    engine = SafeScriptEngine()
    task = _task({"keputusan": "Ya"})
    assert engine.evaluate(task, 'keputusan == "Ya"') is True
    assert engine.evaluate(task, "keputusan == 'Ya' and arsip == 1", external_context={"arsip": 1}) is True
    assert engine.evaluate(task, "keputusan", external_context={"keputusan": "Tidak"}) == "Ya"


def test_the_engine_names_the_task_when_an_expression_fails():
    engine = SafeScriptEngine()
    with pytest.raises(ExpressionInvalid, match="'persetujuan' is not defined") as info:
        engine.evaluate(_task({}), "persetujuan == 'Ya'")
    assert info.value.context == {
        "expression": "persetujuan == 'Ya'", "name": "persetujuan", "task": "Gateway_Keputusan"}
    with pytest.raises(ExpressionInvalid) as info:
        engine.evaluate(_task({}, bpmn_id=None), "__import__('os')")
    assert "task" not in info.value.context


def test_the_engine_never_executes_scripts_or_calls_services(tmp_path):
    engine = SafeScriptEngine()
    task = _task({})
    with pytest.raises(ExpressionInvalid, match="Scripts are not allowed") as info:
        engine.execute(task, f"open('{tmp_path / 'x'}', 'w')")
    assert info.value.context == {"task": "Gateway_Keputusan"}
    with pytest.raises(ExpressionInvalid, match="not allowed"):
        engine.call_service(task, operation_name="x", operation_params={})
    assert not (tmp_path / "x").exists()


def test_the_engine_environment_used_directly_by_spiffworkflow_is_safe_too():
    engine = SafeScriptEngine()
    assert engine.environment.evaluate("a == 1", {"a": 1}, external_context={"a": 2}) is True
    with pytest.raises(ExpressionInvalid):
        engine.environment.evaluate("__import__('os')", {})
    with pytest.raises(ExpressionInvalid, match="Scripts are not allowed"):
        engine.environment.execute("x = 1", {})
    with pytest.raises(ExpressionInvalid):
        engine.environment.call_service({})


def test_the_engine_validates_expressions_with_the_safe_check():
    engine = SafeScriptEngine()
    engine.validate('keputusan == "Ya"')
    engine.validate("2026-11-21T08:00:00Z")
    with pytest.raises(ExpressionInvalid, match="calls 'eval'"):
        engine.validate("eval('1')")
