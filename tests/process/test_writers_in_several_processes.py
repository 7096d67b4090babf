"""Several API processes write one log: `serve --workers 2` and a second `serve`,
scheduling (each process's batches on its event loop) and cancelling (in handler
threads, through eventsourcing's recorder) at once, while a follower in this
process reads the log as every follower does (``id > position``).

The follower must see every event: an id that committed after a higher one was
read would be skipped for good. Each user has one active job at a time, the chain
is whole, and the read model says what the log says."""

import os
import random
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx2 as httpx
import psycopg

from api.composition import build_services
from infrastructure.database_url import parse_database_url
from infrastructure.settings import Settings
from tests.invariants import check_log
from tests.process.conftest import RunningServer, start_server

USERS = [f"racer-{n}@example.com" for n in range(30)]
"""Few enough that the two processes keep asking for the same users at once."""


def log_reader(database_url: str) -> Callable[[int], list[int]]:
    """The positions after a given one, in order, as a follower reads them."""
    url = parse_database_url(database_url)
    if url.sqlite_file is not None:
        sqlite = sqlite3.connect(url.sqlite_file, isolation_level=None, check_same_thread=False)
        query = "SELECT rowid FROM stored_events WHERE rowid > ? ORDER BY rowid"
        return lambda after: [row[0] for row in sqlite.execute(query, (after,))]
    schema = url.schema or "public"
    postgres = psycopg.connect(url.libpq_conninfo, autocommit=True)
    statement = (
        f'SELECT notification_id FROM "{schema}".jobtrail_events '
        "WHERE notification_id > %s ORDER BY notification_id"
    )
    return lambda after: [row[0] for row in postgres.execute(statement, (after,))]


def test_two_processes_writing_at_once_keep_every_guarantee(
    database_url: str, tmp_path: Path
) -> None:
    env = {"JOBTRAIL_EMBEDDED_WORKER": "0", "JOBTRAIL_DELETION_DELAY": "3600"}
    first = start_server(database_url, tmp_path, workers=2, extra_env=env)
    second = start_server(
        database_url, tmp_path, extra_env=env, credentials=(first.api_key, first.project_key)
    )
    read_after = log_reader(database_url)
    followed: list[int] = []
    reads_with_news = 0
    writing = threading.Event()
    writing.set()

    def follow() -> None:
        nonlocal reads_with_news
        while writing.is_set():
            news = read_after(followed[-1] if followed else 0)
            followed.extend(news)
            reads_with_news += bool(news)
            time.sleep(0.002)

    def client(server: RunningServer, seed: int) -> None:
        base = f"{server.base_url}/api/v1/{server.project_key}"
        auth = {"Authorization": server.api_key}
        chance = random.Random(seed)
        with httpx.Client(timeout=30) as http:
            for _ in range(60):
                user = chance.choice(USERS)
                response = http.delete(f"{base}/users/{user}", headers=auth)
                assert response.status_code == 200, response.text
                if chance.random() < 0.3:
                    job_id = response.json()["data"]["jobId"]
                    cancelled = http.delete(f"{base}/jobs/{job_id}", headers=auth)
                    assert cancelled.status_code in (200, 501), cancelled.text

    follower = threading.Thread(target=follow)
    follower.start()
    clients = [
        threading.Thread(target=client, args=(server, seed))
        for seed, server in enumerate([first, second] * 6)
    ]
    try:
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(120)
    finally:
        writing.clear()
        follower.join(10)
        for server in (first, second):
            os.killpg(server.process.pid, signal.SIGTERM)
            server.process.wait(timeout=15)

    followed.extend(read_after(followed[-1] if followed else 0))
    assert len(followed) > 300 and reads_with_news > 20  # it followed while they wrote
    assert followed == read_after(0), "the follower passed over an event that came later"
    services = build_services(Settings(database_url=database_url, deletion_delay=timedelta(0)))
    try:
        assert check_log(services, require_terminal=False) == []
    finally:
        services.close()
