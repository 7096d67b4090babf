"""The baseline server: a constant JSON response on the same Starlette, msgspec and
uvicorn stack as jobtrail, for requests/s ratios.

Its endpoint is a coroutine, as jobtrail's hot routes and the peer's are: a plain
function would run in Starlette's thread pool, and the hand-off to the thread and back
cost the baseline about 40% of its rate (2,200-2,600 against 4,000-4,300 requests/s
at 16 connections, 2026-12-06), which made figure 9d a floor below the real one."""

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


async def constant(_: Request) -> Response:
    return data(_JOB)


app = Starlette(routes=[Route("/{path:path}", constant, methods=["GET", "DELETE"])])
