"""The layers every request passes through (api.middleware, api.in_time, api.metrics),
in process and without a database: what they answer, log and count."""

import asyncio
import logging
import re
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message

from api.in_time import answered_in_time
from api.metrics import Metrics
from api.middleware import BodyLimit, Observe
from infrastructure.async_reads import Overloaded

Sent = list[Message]


def an_app(metrics: Metrics, seconds: float = 10.0, **endpoints: Any) -> Starlette:
    async def hello(_: Request) -> Response:
        return PlainTextResponse("hello")

    async def echo(request: Request) -> Response:
        return PlainTextResponse(await request.body())

    routes = [
        Route("/hello", answered_in_time(hello), methods=["GET"]),
        Route("/echo", answered_in_time(echo), methods=["POST"]),
        Route("/users/{userId:path}", answered_in_time(hello), methods=["GET"]),
        *(Route(f"/{name}", answered_in_time(e), methods=["GET"]) for name, e in endpoints.items()),
    ]
    app = Starlette(
        middleware=[Middleware(Observe, metrics=metrics), Middleware(BodyLimit)], routes=routes
    )
    settings = SimpleNamespace(read_your_writes_timeout=seconds)
    app.state.services = SimpleNamespace(settings=settings)
    return app


async def call(
    app: Starlette,
    path: str,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: list[bytes] | None = None,
) -> tuple[int, dict[bytes, bytes], bytes]:
    chunks = list(body or [b""])
    sent: Sent = []

    async def receive() -> Message:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        await asyncio.Event().wait()  # the client stays
        raise AssertionError

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers or [],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), answer


def test_a_request_id_is_echoed_when_valid_and_made_otherwise() -> None:
    app = an_app(Metrics())

    async def scenario() -> None:
        _, made, _ = await call(app, "/hello")
        assert re.fullmatch(rb"[0-9a-f]{32}", made[b"x-request-id"])
        _, other, _ = await call(app, "/hello")
        assert other[b"x-request-id"] != made[b"x-request-id"]
        _, chosen, _ = await call(app, "/hello", headers=[(b"x-request-id", b"trace-42.a")])
        assert chosen[b"x-request-id"] == b"trace-42.a"
        for hostile in (b"x" * 65, b"a b", b"caf\xe9", b""):
            _, refused, _ = await call(app, "/hello", headers=[(b"x-request-id", hostile)])
            assert re.fullmatch(rb"[0-9a-f]{32}", refused[b"x-request-id"]), hostile
        repeated = [(b"x-request-id", b"first"), (b"x-request-id", b"second")]
        _, last, _ = await call(app, "/hello", headers=repeated)
        assert last[b"x-request-id"] == b"second"
        assert made[b"x-content-type-options"] == b"nosniff"

    asyncio.run(scenario())


def test_the_access_log_names_the_route_template_status_and_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = an_app(Metrics())
    with caplog.at_level(logging.INFO, logger="jobtrail.access"):
        status, headers, _ = asyncio.run(
            call(app, "/users/someone/else", headers=[(b"x-request-id", b"rid-1")])
        )
    assert status == 200
    (record,) = [r for r in caplog.records if r.name == "jobtrail.access"]
    assert record.levelno == logging.INFO and record.funcName == "_log_access"
    assert record.pathname.endswith("middleware.py")
    assert re.fullmatch(r"GET /users/\{userId\} 200 \d+\.\dms key=-", record.getMessage())
    fields = vars(record)
    assert fields["route"] == "/users/{userId}" and fields["method"] == "GET"
    assert fields["status"] == 200 and fields["key_id"] is None and fields["job_id"] is None
    assert isinstance(fields["duration_ms"], float)
    assert headers[b"x-request-id"] == b"rid-1"


def test_nothing_is_logged_below_the_access_logs_level(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        asyncio.run(call(an_app(Metrics()), "/hello"))
    assert not [r for r in caplog.records if r.name == "jobtrail.access"]


def test_the_route_and_status_are_counted_through_the_middleware() -> None:
    metrics = Metrics()
    app = an_app(metrics)

    async def scenario() -> None:
        await call(app, "/users/a/b")
        await call(app, "/users/c")
        await call(app, "/nowhere")

    asyncio.run(scenario())
    families = {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}
    counted = {
        (s.labels["route"], s.labels["status"]): s.value
        for s in families["jobtrail_http_requests"].samples
        if s.name.endswith("_total")
    }
    assert counted == {("/users/{userId}", "200"): 2.0, ("<unrouted>", "404"): 1.0}


def test_bodies_over_the_limit_are_refused_and_others_handed_on_whole() -> None:
    app = an_app(Metrics())
    too_long = str(64 * 1024 + 1).encode()

    async def scenario() -> None:
        status, headers, _ = await call(
            app, "/echo", "POST", headers=[(b"content-length", too_long)]
        )
        assert status == 413 and headers[b"x-content-type-options"] == b"nosniff"
        status, _, _ = await call(app, "/echo", "POST", headers=[(b"content-length", b"12a")])
        assert status == 400
        chunked = [(b"transfer-encoding", b"chunked")]
        status, _, _ = await call(app, "/echo", "POST", headers=chunked, body=[b"x" * 40_000] * 2)
        assert status == 413
        status, _, answer = await call(app, "/echo", "POST", headers=chunked, body=[b"ab", b"cd"])
        assert (status, answer) == (200, b"abcd")
        declared = [(b"content-length", b"4")]
        status, _, answer = await call(app, "/echo", "POST", headers=declared, body=[b"wxyz"])
        assert (status, answer) == (200, b"wxyz")
        # A repeated header counts by its last value.
        twice = [(b"content-length", b"4"), (b"content-length", too_long)]
        status, _, _ = await call(app, "/echo", "POST", headers=twice, body=[b"wxyz"])
        assert status == 413

    asyncio.run(scenario())


def test_a_request_past_its_deadline_is_answered_503_with_retry_after() -> None:
    finished: list[str] = []

    async def slow(_: Request) -> Response:
        await asyncio.sleep(5)
        finished.append("slow")
        return PlainTextResponse("late")

    async def quick(_: Request) -> Response:
        await asyncio.sleep(0.01)
        return PlainTextResponse("quick")

    app = an_app(Metrics(), seconds=0.1, slow=slow, quick=quick)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        answers = await asyncio.gather(
            *(call(app, "/slow" if n % 3 == 0 else "/quick") for n in range(30))
        )
        assert loop.time() - started < 1
        for n, (status, headers, body) in enumerate(answers):
            if n % 3 == 0:
                assert status == 503 and headers[b"retry-after"] == b"1", body
                assert b"did not answer in time" in body
            else:
                assert (status, body) == (200, b"quick")
        # Later requests on the same loop get a deadline of their own, not a stale one.
        await asyncio.sleep(0.2)
        status, _, body = await call(app, "/quick")
        assert (status, body) == (200, b"quick")
        assert (await call(app, "/slow"))[0] == 503
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0

    asyncio.run(scenario())
    assert finished == []


def test_a_deadline_of_zero_answers_503_at_once() -> None:
    async def scenario() -> int:
        return (await call(an_app(Metrics(), seconds=0.0), "/hello"))[0]

    # /hello awaits nothing, so it is done before the deadline is seen, as with asyncio.timeout.
    assert asyncio.run(scenario()) == 200

    async def waits(_: Request) -> Response:
        await asyncio.sleep(0)
        return PlainTextResponse("waited")

    async def waiting() -> int:
        return (await call(an_app(Metrics(), seconds=0.0, waits=waits), "/waits"))[0]

    assert asyncio.run(waiting()) == 503


def test_a_cancellation_from_elsewhere_is_not_taken_for_the_deadline() -> None:
    entered = asyncio.Event()

    async def slow(_: Request) -> Response:
        entered.set()
        await asyncio.sleep(5)
        return PlainTextResponse("late")

    app = an_app(Metrics(), seconds=10.0, slow=slow)

    async def scenario() -> None:
        request = asyncio.ensure_future(call(app, "/slow"))
        await entered.wait()
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request

    asyncio.run(scenario())


def test_an_endpoint_refused_for_overload_is_answered_503_at_once() -> None:
    async def overloaded(_: Request) -> Response:
        raise Overloaded

    status, headers, body = asyncio.run(
        call(an_app(Metrics(), overloaded=overloaded), "/overloaded")
    )
    assert status == 503 and headers[b"retry-after"] == b"1"
    assert b"Too many requests" in body
