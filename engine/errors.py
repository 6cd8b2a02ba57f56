"""Alur's errors: one root with a stable snake_case code and the context a user needs to act."""

from __future__ import annotations


class AlurError(Exception):
    """Base of every error Alur raises on purpose; `code` is stable, `context` names where."""

    code = "alur_error"

    def __init__(self, message: str, **context):
        super().__init__(message)
        self.message = message
        self.context = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:
        return self.message


class DiagramInvalid(AlurError):
    """A diagram failed lint; `problems` lists every finding."""

    code = "diagram_invalid"

    def __init__(self, message: str, problems=(), **context):
        super().__init__(message, **context)
        self.problems = list(problems)


class ExpressionInvalid(AlurError):
    """An expression the safe evaluator refuses or cannot evaluate."""

    code = "expression_invalid"


class NotFound(AlurError):
    code = "not_found"


class NotPermitted(AlurError):
    code = "not_permitted"


class TaskNotReady(AlurError):
    code = "task_not_ready"


class StaleInstance(AlurError):
    code = "stale_instance"


class FormInvalid(AlurError):
    """Submitted data failed validation; `fields` maps field name to message, `values` keeps what was entered."""

    code = "form_invalid"

    def __init__(self, message: str, fields=None, values=None, **context):
        super().__init__(message, **context)
        self.fields = dict(fields or {})
        self.values = dict(values or {})


class ConfigInvalid(AlurError):
    code = "config_invalid"


class EngineError(AlurError):
    """SpiffWorkflow refused to go on (for example no gateway condition matched)."""

    code = "engine_error"


class RunawayLoop(AlurError):
    """An instance went round a loop more often than any SOP needs."""

    code = "runaway_loop"
