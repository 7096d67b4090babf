"""A real S3 HTTP endpoint for the tests: moto's standalone server on a free port,
and a pass-through proxy in front of it that can answer with S3's own errors
(503 SlowDown, 403 AccessDenied) for the requests a test chooses."""

import http.client
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.process.conftest import free_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server in its own process; yields its endpoint URL."""
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **CREDENTIALS},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        # Nothing of it is kept, and its orderly exit takes seconds once it has held
        # thousands of objects.
        process.kill()
        process.wait(timeout=10)


Matcher = Callable[[str, str], bool]
"""Whether a request (method, path with query) is one a fault applies to."""


def deleting_objects(method: str, path: str) -> bool:
    return method == "POST" and "delete" in path.split("?", 1)[-1]


def listing(method: str, path: str) -> bool:
    return method == "GET" and "list-type=2" in path


@dataclass
class Faults:
    """S3 errors the proxy answers instead of passing a request on."""

    plan: list[tuple[Matcher, int, str, int]] = field(default_factory=list)
    answered: int = 0
    seen: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, matcher: Matcher, status: int, code: str, times: int = 1_000_000) -> None:
        with self.lock:
            self.plan.append((matcher, status, code, times))

    def take(self, method: str, path: str) -> tuple[int, str] | None:
        with self.lock:
            self.seen.append((method, path))
            for index, (matcher, status, code, times) in enumerate(self.plan):
                if times > 0 and matcher(method, path):
                    self.plan[index] = (matcher, status, code, times - 1)
                    self.answered += 1
                    return status, code
        return None


@contextmanager
def s3_proxy(upstream: str, faults: Faults) -> Iterator[str]:
    """A proxy to ``upstream`` that answers with ``faults`` first; yields its URL."""
    host, port = upstream.removeprefix("http://").split(":")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return None

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            fault = faults.take(self.command, self.path)
            if fault is not None:
                status, code = fault
                answer = (
                    f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                    f"<Message>{code} from the test's proxy</Message></Error>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                return
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            headers["Host"] = f"{host}:{port}"
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in ("transfer-encoding", "content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            connection.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def reset(endpoint: str) -> None:
    """moto's server emptied: no bucket, no object."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))


def fresh_bucket(endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch) -> "S3Client":
    """moto emptied, and one empty bucket in it, reached with the test credentials."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    reset(endpoint)
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=bucket)
    return client


Version = tuple[str, str]
"""An object's version in a bucket: (key, version id)."""


def keep_versions(s3: "S3Client", bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def stored(s3: "S3Client", bucket: str) -> tuple[set[Version], set[Version]]:
    """Every version, and every delete marker, in the bucket."""
    versions: set[Version] = set()
    markers: set[Version] = set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions |= {(v["Key"], v["VersionId"]) for v in page.get("Versions", [])}
        markers |= {(m["Key"], m["VersionId"]) for m in page.get("DeleteMarkers", [])}
    return versions, markers


def put_objects(endpoint: str, bucket: str, objects: Iterable[str | tuple[str, bytes]]) -> None:
    """Each object put, a key (its body b"x") or a key and its body, by PUTs to the
    server signed with the test credentials (moto refuses an unsigned PUT over an
    existing object).

    A bucket of thousands of objects is made in seconds, not in a minute of boto3's
    requests one by one: distinct keys go at once on a few kept-alive connections,
    while the puts of one key go one after the other in their order in ``objects``
    (moto's server loses versions of a key put concurrently), so a versioned bucket
    holds every version, the last put the latest."""
    host, port = urllib.parse.urlsplit(endpoint).netloc.split(":")
    signer = S3SigV4Auth(
        Credentials(CREDENTIALS["AWS_ACCESS_KEY_ID"], CREDENTIALS["AWS_SECRET_ACCESS_KEY"]),
        "s3",
        CREDENTIALS["AWS_DEFAULT_REGION"],
    )
    by_key: dict[str, list[bytes]] = {}
    for put in objects:
        key, body = (put, b"x") if isinstance(put, str) else put
        by_key.setdefault(key, []).append(body)
    lanes = 4
    shares = [list(by_key.items())[lane::lanes] for lane in range(lanes)]

    def put_share(share: list[tuple[str, list[bytes]]]) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            for key, bodies in share:
                path = f"/{bucket}/{urllib.parse.quote(key, safe='/~')}"
                for body in bodies:
                    request = AWSRequest(method="PUT", url=f"{endpoint}{path}", data=body)
                    signer.add_auth(request)
                    connection.request("PUT", path, body=body, headers=dict(request.headers))
                    answer = connection.getresponse()
                    said = answer.read()
                    if answer.status != 200:
                        raise RuntimeError(f"PUT {path}: {answer.status} {said!r}")
        finally:
            connection.close()

    with ThreadPoolExecutor(lanes) as pool:
        list(pool.map(put_share, shares))
