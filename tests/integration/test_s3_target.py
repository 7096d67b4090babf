"""The S3 target against a real S3 HTTP endpoint (moto's server), with the
sessions table on both backends: exactly the user's objects go, counted."""

from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

from application.ports import DeletionTarget
from domain.lifecycle import JobStatus
from infrastructure.session_store import seed_sessions
from infrastructure.target_config import (
    ConfigError,
    S3TargetConfig,
    SqlTargetConfig,
    TargetsConfig,
    load_config,
)
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.integration.test_deletion_targets import write
from tests.runner_support import RunnerKit
from tests.s3_server import CREDENTIALS, Faults, deleting_objects, s3_proxy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "mobs"
MOB_FILES = ("dom.mobs", "dom.mobe", "devtools.mob")


@pytest.fixture
def s3(moto: str, monkeypatch: pytest.MonkeyPatch) -> "S3Client":
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=moto)
    for old in client.list_buckets().get("Buckets", []):
        objects = client.list_objects_v2(Bucket=old["Name"]).get("Contents", [])
        for item in objects:
            client.delete_object(Bucket=old["Name"], Key=item["Key"])
        client.delete_bucket(Bucket=old["Name"])
    client.create_bucket(Bucket=BUCKET)
    return client


def config(endpoint: str, prefix: str = "{sessionId}/") -> TargetsConfig:
    return TargetsConfig(
        batch_size=40,
        targets=[
            SqlTargetConfig(name="sessions", table="sessions", id_column="session_id"),
            S3TargetConfig(
                name="mobs",
                bucket=BUCKET,
                endpoint_url=endpoint,
                prefix=prefix,
                sessions_from="sessions",
            ),
        ],
    )


def session_ids(kit: RunnerKit, user_id: str, project_id: int = 1) -> list[int]:
    from sqlalchemy import select

    from infrastructure.sessions import sessions

    with kit.services.database.reader() as conn:
        return list(
            conn.execute(
                select(sessions.c.session_id).where(
                    sessions.c.user_id == user_id, sessions.c.project_id == project_id
                )
            ).scalars()
        )


def put_mobs(s3: "S3Client", session_ids: list[int]) -> None:
    for session_id in session_ids:
        for name in MOB_FILES:
            s3.put_object(Bucket=BUCKET, Key=f"{session_id}/{name}", Body=b"mob")


def keys(s3: "S3Client") -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def run_with(kit: RunnerKit, targets: list[DeletionTarget], user: str) -> int:
    job_id = kit.schedule(user)
    kit.worker(kit.runner(batch_size=40, targets=targets)).run_due_jobs()
    return job_id


def test_a_users_session_objects_are_deleted_and_counted_and_nothing_else(
    kit: RunnerKit, s3: "S3Client", moto: str
) -> None:
    seed_sessions(kit.services.database, 1, ["alice", "bob"], 60, None)
    seed_sessions(kit.services.database, 2, ["alice"], 5, None)
    alice = session_ids(kit, "alice")
    others = session_ids(kit, "bob") + session_ids(kit, "alice", project_id=2)
    put_mobs(s3, alice + others)
    # Keys that share alice's session ids as a prefix of theirs must survive.
    decoys = {f"{alice[0]}0/dom.mobs", f"{alice[1]}-copy/dom.mobs", f"x/{alice[2]}/dom.mobs"}
    for key in decoys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"not alice's")
    targets = build_targets(config(moto), kit.services.database)
    check_targets(targets)
    before = keys(s3)

    job_id = run_with(kit, [*targets], "alice")

    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    assert kit.services.history.receipt(1, job_id) == {"sessions": 60, "mobs": 180}
    gone = {f"{session_id}/{name}" for session_id in alice for name in MOB_FILES}
    assert keys(s3) == before - gone
    assert decoys <= keys(s3)
    assert kit.session_count("bob") == 60 and kit.session_count("alice", project_id=2) == 5


def test_throttling_is_retried_and_the_job_still_completes_exactly(
    kit: RunnerKit, s3: "S3Client", moto: str
) -> None:
    seed_sessions(kit.services.database, 1, ["carol"], 12, None)
    put_mobs(s3, session_ids(kit, "carol"))
    faults = Faults()
    with s3_proxy(moto, faults) as proxy:
        faults.add(deleting_objects, 503, "SlowDown", times=4)
        targets = build_targets(config(proxy), kit.services.database)
        job_id = run_with(kit, [*targets], "carol")
    assert faults.answered == 4
    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    assert kit.services.history.receipt(1, job_id) == {"sessions": 12, "mobs": 36}
    assert keys(s3) == set()


def test_an_access_denied_bucket_fails_the_job_with_the_services_error_code(
    kit: RunnerKit, s3: "S3Client", moto: str
) -> None:
    seed_sessions(kit.services.database, 1, ["dave"], 3, None)
    put_mobs(s3, session_ids(kit, "dave"))
    faults = Faults()
    with s3_proxy(moto, faults) as proxy:
        faults.add(deleting_objects, 403, "AccessDenied")
        targets = build_targets(config(proxy), kit.services.database)
        job_id = run_with(kit, [*targets], "dave")
    failed = job_now(kit.services, 1, job_id)
    assert failed.status == JobStatus.FAILED
    assert failed.errors is not None and "mobs: S3 AccessDenied" in failed.errors
    assert kit.session_count("dave") == 3  # the rows stay: their objects are still there
    assert len(keys(s3)) == 9


def test_listing_never_leaves_the_users_prefix(kit: RunnerKit, s3: "S3Client", moto: str) -> None:
    seed_sessions(kit.services.database, 1, ["erin"], 4, None)
    erin = session_ids(kit, "erin")
    put_mobs(s3, erin)
    faults = Faults()
    with s3_proxy(moto, faults) as proxy:
        targets = build_targets(config(proxy), kit.services.database)
        run_with(kit, [*targets], "erin")
    listed = [path for method, path in faults.seen if "list-type=2" in path]
    assert listed and all(
        any(f"prefix={session_id}%2F" in path for session_id in erin) for path in listed
    )


def test_a_missing_bucket_or_a_prefix_without_a_slash_is_refused_before_any_job(
    kit: RunnerKit, s3: "S3Client", moto: str, tmp_path: Path
) -> None:
    missing = TargetsConfig(
        targets=[S3TargetConfig(name="mobs", bucket="nope", endpoint_url=moto, prefix="{userId}/")]
    )
    with pytest.raises(ConfigError, match="Target mobs: bucket nope: mobs: S3 404"):
        check_targets(build_targets(missing, kit.services.database))
    toml = write(
        tmp_path,
        'batch_size = 10\n[[targets]]\nkind = "s3"\nname = "mobs"\nbucket = "mobs"\n'
        'prefix = "{projectId}/{userId}"\n',
    )
    with pytest.raises(ConfigError, match="must end with '/'"):
        load_config(toml)


def test_objects_named_by_the_user_are_deleted_in_batches(
    kit: RunnerKit, s3: "S3Client", moto: str
) -> None:
    for n in range(25):
        s3.put_object(Bucket=BUCKET, Key=f"exports/1/frank/{n}.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="exports/1/frankie/0.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="exports/2/frank/0.json", Body=b"{}")
    only = TargetsConfig(
        targets=[
            S3TargetConfig(
                name="exports",
                bucket=BUCKET,
                endpoint_url=moto,
                prefix="exports/{projectId}/{userId}/",
            )
        ]
    )
    targets = build_targets(only, kit.services.database)
    job_id = kit.schedule("frank")
    kit.worker(kit.runner(batch_size=10, targets=[*targets])).run_due_jobs()
    assert kit.services.history.receipt(1, job_id) == {"exports": 25}
    assert keys(s3) == {"exports/1/frankie/0.json", "exports/2/frank/0.json"}
