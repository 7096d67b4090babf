"""Keys from the command line: listed, rotated and revoked, and refused by a running
server (another process, with its own cache) within ten seconds."""

import json
import time
from pathlib import Path

import httpx2 as httpx

from tests.process.conftest import RunningServer, jobtrail


def listed(database_url: str) -> dict[str, dict[str, object]]:
    result = jobtrail(database_url, "keys", "list", "--json")
    assert result.returncode == 0, result.stderr
    return {record["keyId"]: record for record in map(json.loads, result.stdout.splitlines())}


def test_a_revoked_key_is_refused_by_a_running_server_within_ten_seconds(
    server: RunningServer, database_url: str, tmp_path: Path
) -> None:
    url = f"{server.base_url}/api/v1/{server.project_key}/jobs"
    auth = {"Authorization": server.api_key}
    assert httpx.get(url, headers=auth).status_code == 200
    key_id = server.api_key.split("_")[1]
    [record] = listed(database_url).values()
    assert record["keyId"] == key_id and record["revokedAt"] is None
    assert record["lastUsedAt"] is not None
    assert server.api_key.split("_")[2] not in json.dumps(record)

    revoked = jobtrail(database_url, "keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    started = time.monotonic()
    while httpx.get(url, headers=auth).status_code == 200:
        assert time.monotonic() - started < 11, "still accepted after the cache's lifetime"
        time.sleep(0.25)
    assert listed(database_url)[key_id]["revokedAt"] is not None


def test_a_rotated_key_prints_a_new_key_and_the_old_one_expires(
    server: RunningServer, database_url: str
) -> None:
    key_id = server.api_key.split("_")[1]
    rotated = jobtrail(database_url, "keys", "rotate", key_id, "--grace", "3600", "--json")
    assert rotated.returncode == 0, rotated.stderr
    new = json.loads(rotated.stdout)
    assert new["replaces"] == key_id and new["apiKey"].startswith("jt_")
    url = f"{server.base_url}/api/v1/{server.project_key}/jobs"
    assert httpx.get(url, headers={"Authorization": new["apiKey"]}).status_code == 200
    assert httpx.get(url, headers={"Authorization": server.api_key}).status_code == 200
    keys = listed(database_url)
    assert keys[key_id]["expiresAt"] is not None and keys[new["keyId"]]["expiresAt"] is None


def test_revoking_an_unknown_key_says_so_in_one_line(
    server: RunningServer, database_url: str
) -> None:
    result = jobtrail(database_url, "keys", "revoke", "nosuchkey")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("database: ")  # the database it used, then the error
    assert lines[1:] == ["Error: No usable API key has the id 'nosuchkey'."]
