"""The reads every request makes, straight through psycopg on PostgreSQL.

A web request reads a handful of rows in a few statements (the session, the inbox page, the task's case and
item, the step's lock). Through SQLAlchemy each statement costs about twice the CPU psycopg itself needs: the
cache key of the statement, an execution context, the result's metadata built from psycopg's column
descriptions, a Row per row. `rows()` compiles a prebuilt statement once for psycopg and runs it on the
connection's own psycopg connection (the same transaction), with SQLAlchemy's own result processors (UtcDateTime)
applied to the columns that have one, and returns named tuples with the columns' names.

Everything else about the statement stays SQLAlchemy's: the SQL it compiles to, the types' conversions, the
exceptions (a psycopg error goes through the connection's own handling: wrapped, and a dropped connection
invalidated), and the `before_cursor_execute` event, so a listener counting statements sees these too. On SQLite
`rows()` is `conn.execute(statement, params).all()`: it runs in process, with little to save.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import UTC, datetime

import psycopg
from sqlalchemy.dialects import postgresql

_PSYCOPG = postgresql.psycopg.dialect()
_PLANS: dict = {}

# Set in a connection's `info` while its transaction's BEGIN is still to be sent: a writing unit of work on PostgreSQL
# sends it with the transaction's first statement, in the same round trip (SqlUnitOfWork, adapters/sql.py).
BEGIN_PENDING = "alur_begin_pending"


class _Plan:
    """A statement compiled for psycopg: its SQL, the values of the literals it binds, and how to make a row."""

    __slots__ = ("sql", "literals", "row", "converted")

    def __init__(self, statement):
        compiled = statement.compile(dialect=_PSYCOPG)
        self.sql = str(compiled)
        self.literals = {k: bind(v) for k, v in compiled.params.items() if v is not None}
        self.row = None  # named by the first result's columns: the names SQLAlchemy's rows would have
        self.converted = tuple((index, process) for index, c in enumerate(statement.selected_columns)
                               if (process := c.type._cached_result_processor(_PSYCOPG, None)) is not None)  # noqa: SLF001

    def name_columns(self, description) -> None:
        self.row = namedtuple("Row", [column.name for column in description])  # a repeated name fails here


def _plan(statement) -> _Plan:
    plan = _PLANS.get(statement)  # the statement itself as the key: an id may be reused once an object is gone
    if plan is None:
        plan = _PLANS[statement] = _Plan(statement)
    return plan


def bind(value):
    """A parameter as psycopg takes it: an aware datetime as the naive UTC the columns hold (UtcDateTime)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def rows(conn, statement, params: dict) -> list:
    """The rows of a prebuilt SELECT (`params` by the names of its bound parameters), as named tuples."""
    if conn.dialect.name != "postgresql":
        return conn.execute(statement, params).all()
    plan = _plan(statement)
    values = {**plan.literals, **{k: bind(v) for k, v in params.items()}}
    driver = conn.connection.driver_connection
    begin = conn.info.pop(BEGIN_PENDING, False)
    cursor = driver.cursor()
    if conn._has_events or conn.engine._has_events:  # noqa: SLF001 - e.g. a test or a benchmark counting statements
        conn.dispatch.before_cursor_execute(conn, cursor, plan.sql, values, None, False)
    try:
        if begin:
            with driver.pipeline():  # both sent, then one wait for both answers
                driver.execute(b"BEGIN")
                cursor.execute(plan.sql, values)
        else:
            cursor.execute(plan.sql, values)
        if plan.row is None:
            plan.name_columns(cursor.description)
        found = cursor.fetchall()
    except psycopg.Error as err:
        conn._handle_dbapi_exception(err, plan.sql, values, cursor, None)  # noqa: SLF001 - raises, wrapped
        raise
    finally:
        cursor.close()
    make = plan.row._make
    if not plan.converted:
        return [make(r) for r in found]
    result = []
    for r in found:
        values = list(r)
        for index, process in plan.converted:
            values[index] = process(values[index])
        result.append(make(values))
    return result


def first(conn, statement, params: dict):
    """The first row of rows(), or None."""
    found = rows(conn, statement, params)
    return found[0] if found else None
