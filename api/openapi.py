"""The OpenAPI document of jobtrail's HTTP API."""

from typing import Any, Literal

import msgspec

from api.params import DEFAULT_PAGE_LIMIT, MAX_JOB_ID, MAX_LIMIT, MAX_PAGE
from application.audit import EventRecord
from application.sessions import SessionView
from application.views import JobView
from domain.lifecycle import JobStatus

_REF = "#/components/schemas/{name}"


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


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(name=schema_name)}}},
    }


def _error(description: str) -> dict[str, Any]:
    return _json("ErrorBody", description)


_PROJECT_KEY = {
    "name": "projectKey",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The project's key.",
}
_JOB_ID = {
    "name": "jobId",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
    "description": "The id returned by the user deletion call.",
}
_USER_ID = {
    "name": "userId",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 256},
}
_EPOCH_MS = {"type": "integer", "minimum": 0, "maximum": MAX_JOB_ID}
_PAGE = {
    "name": "page",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
}


def _limit(description: str) -> dict[str, Any]:
    return {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        "description": description,
    }


_AUTH_ERRORS = {
    "401": _error("Missing or invalid API key."),
    "404": _error("Unknown project, or a project of another organization."),
    "503": _error("The database is unavailable."),
}


def openapi_document() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        [JobBody, JobListBody, EventListBody, SessionListBody, ErrorBody, Health], ref_template=_REF
    )
    secured: list[dict[str, list[str]]] = [{"OrganizationApiKey": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jobtrail",
            "version": "1.0.0",
            "description": "User-data deletion jobs, compatible with OpenReplay's v1 Jobs API.",
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "OrganizationApiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "The organization API key, raw or as 'Bearer <key>'.",
                }
            },
        },
        "paths": {
            "/api/v1/{projectKey}/jobs": {
                "get": {
                    "operationId": "listJobs",
                    "summary": "List every job of the project, newest first.",
                    "security": secured,
                    "parameters": [
                        _PROJECT_KEY,
                        _limit("Page size; without it every job is returned."),
                        _PAGE,
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "enum": [s.value for s in JobStatus]},
                        },
                    ],
                    "responses": {
                        "200": _json("JobListBody", "The jobs."),
                        "400": _error("A malformed limit, page or status."),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/api/v1/{projectKey}/jobs/{jobId}": {
                "get": {
                    "operationId": "getJob",
                    "summary": "A job's status and details; with at or version, as it was then.",
                    "security": secured,
                    "parameters": [
                        _PROJECT_KEY,
                        _JOB_ID,
                        {
                            "name": "at",
                            "in": "query",
                            "schema": _EPOCH_MS,
                            "description": "The job as it was at this time (epoch ms).",
                        },
                        {
                            "name": "version",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                            "description": "The job as it was after its event number version.",
                        },
                    ],
                    "responses": {
                        "200": _json("JobBody", "The job."),
                        "400": _error("A malformed at or version, or both given."),
                        **_AUTH_ERRORS,
                    },
                },
                "delete": {
                    "operationId": "cancelJob",
                    "summary": "Cancel a job that is scheduled or running.",
                    "security": secured,
                    "parameters": [_PROJECT_KEY, _JOB_ID],
                    "responses": {
                        "200": _json("JobBody", "The cancelled job."),
                        "409": _error("The job kept changing while the cancel was retried."),
                        "501": _error("The job is completed, failed or cancelled already."),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v1/{projectKey}/jobs/{jobId}/events": {
                "get": {
                    "operationId": "getJobEvents",
                    "summary": "Every event of the job, in order, from the event log.",
                    "security": secured,
                    "parameters": [_PROJECT_KEY, _JOB_ID],
                    "responses": {"200": _json("EventListBody", "The events."), **_AUTH_ERRORS},
                }
            },
            "/api/v1/{projectKey}/users/{userId}": {
                "delete": {
                    "operationId": "deleteUserData",
                    "summary": "Schedule the deletion of everything held about a user.",
                    "description": "Returns the user's active deletion job if one exists.",
                    "security": secured,
                    "parameters": [_PROJECT_KEY, _USER_ID],
                    "responses": {
                        "200": _json("JobBody", "The scheduled (or already active) job."),
                        "400": _error("An empty, too long or malformed userId."),
                        "409": _error("Concurrent requests kept conflicting."),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/api/v1/{projectKey}/users/{userId}/sessions": {
                "get": {
                    "operationId": "listUserSessions",
                    "summary": "The user's sessions, newest first (what a deletion removes).",
                    "security": secured,
                    "parameters": [
                        _PROJECT_KEY,
                        _USER_ID,
                        {"name": "start_date", "in": "query", "schema": _EPOCH_MS},
                        {"name": "end_date", "in": "query", "schema": _EPOCH_MS},
                        _limit(f"Page size (default {DEFAULT_PAGE_LIMIT})."),
                        _PAGE,
                    ],
                    "responses": {
                        "200": _json("SessionListBody", "The sessions."),
                        "400": _error("A malformed userId, date, limit or page."),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness and database reachability.",
                    "responses": {
                        "200": _json("Health", "Alive, and the database takes writes."),
                        "503": _json("Health", "Alive; the database is read-only or away."),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": {"200": {"description": "The OpenAPI document."}},
                }
            },
        },
    }
