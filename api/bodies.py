"""The JSON bodies the API answers with, as types: the OpenAPI document's schemas are
derived from them (the handlers encode views directly, with the same shape)."""

from typing import Literal

import msgspec

from application.audit import EventRecord
from application.job_records import JobView
from application.sessions import SessionView


class ErrorBody(msgspec.Struct):
    errors: list[str]


class JobBody(msgspec.Struct):
    data: JobView


class JobListBody(msgspec.Struct):
    data: list[JobView]


class EventListBody(msgspec.Struct):
    data: list[EventRecord]


class SessionListBody(msgspec.Struct):
    data: list[SessionView]


class Health(msgspec.Struct):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "read-only", "unreachable"]
