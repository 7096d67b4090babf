"""Exact equality of ids in SQL: byte for byte, whatever the column's type or collation.

A plain ``=`` follows the column's collation: on PostgreSQL's ``citext``, a
nondeterministic (case-insensitive ICU) collation or SQLite's ``COLLATE NOCASE``,
``'alice' = 'Alice'`` holds, and a job for alice would take Alice's rows (or a device
Alice used would look like nobody else's). Every statement that finds a person's rows
by an id (user id, anonymous id, device, value) compares through here.

The comparison is the plain ``=`` AND the same values compared by their bytes: the
plain one lets the column's own index find the candidates, the second decides. Byte
equality implies equality under any collation, so the first never drops a row the
second keeps. PostgreSQL compares the values as ``text`` in the ``"C"`` collation
(deterministic: equal only if the bytes are); SQLite, in ``BINARY``.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, Text, and_
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType


class _Bytes(FunctionElement[str]):
    """A text value as compared by its bytes (no collation folds it)."""

    name = "exact_bytes"
    type = Text()
    inherit_cache = True


@compiles(_Bytes, "postgresql")
def _postgresql(element: _Bytes, compiler: SQLCompiler, **kw: Any) -> str:
    # As text: citext's own = would fold case again. "C" is explicit, so it wins
    # over the column's implicit collation (and over the other side's).
    return f'CAST({compiler.process(element.clauses, **kw)} AS TEXT) COLLATE "C"'


@compiles(_Bytes, "sqlite")
def _sqlite(element: _Bytes, compiler: SQLCompiler, **kw: Any) -> str:
    # An explicit COLLATE on an operand overrides the column's (NOCASE, RTRIM).
    return f"({compiler.process(element.clauses, **kw)}) COLLATE BINARY"


@compiles(_Bytes)
def _unknown(element: _Bytes, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(
        f"jobtrail cannot compare ids exactly on {compiler.dialect.name}: only on "
        "PostgreSQL and SQLite."
    )


def exactly(column: Any, value: Any) -> ColumnElement[bool]:
    """``column`` holds exactly ``value`` (a value, a bind parameter or a column)."""
    plain: ColumnElement[bool] = column == value
    if not _textual(column):
        return plain  # a number or a UUID has no collation to fold it
    return and_(plain, _Bytes(column) == _Bytes(value))


def exactly_in(column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column`` holds exactly one of ``values``."""
    plain: ColumnElement[bool] = column.in_(values)
    if not _textual(column):
        return plain
    return and_(plain, _Bytes(column).in_(values))


def _textual(column: Any) -> bool:
    """Text, or a column of no known type (SQLite's untyped one holds text too)."""
    return isinstance(getattr(column, "type", None), String | NullType)
