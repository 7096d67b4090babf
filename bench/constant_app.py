"""The baseline server: a constant JSON response on the same Starlette, msgspec and
uvicorn stack as jobtrail, for requests/s ratios."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.responses import data

_JOB = {
    "jobId": 1,
    "description": "Delete user sessions of userId = constant@example.com",
    "status": "scheduled",
    "projectId": 1,
    "action": "delete_user_data",
    "referenceId": "constant@example.com",
    "createdAt": 1623912955277,
    "updatedAt": 1623912955277,
    "startAt": 1623954600000,
    "errors": None,
}


def constant(_: Request) -> Response:
    return data(_JOB)


app = Starlette(routes=[Route("/{path:path}", constant, methods=["GET", "DELETE"])])
