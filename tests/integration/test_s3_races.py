"""What S3 does between a batch's listing and its delete, on a real S3 HTTP
endpoint (moto's server), through the real runner: the bucket begins keeping
versions, or a new object or version of the person's lands. Every version goes,
and the receipt counts what the person had, once."""

from typing import TYPE_CHECKING, Any

import boto3
import pytest

from application.ports import BatchInterrupted, TransientTargetError
from domain.lifecycle import JobStatus
from infrastructure.openreplay_recordings import recordings_target
from infrastructure.s3_targets import S3Objects
from infrastructure.session_store import seed_sessions
from infrastructure.target_config import S3TargetConfig, SqlTargetConfig, TargetsConfig
from infrastructure.targets import UserObjectsTarget, build_targets
from tests.conftest import job_now
from tests.integration.test_s3_target import session_ids
from tests.runner_support import RunnerKit
from tests.s3_server import fresh_bucket, keep_versions, stored

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "mobs"


@pytest.fixture
def s3(moto: str, monkeypatch: pytest.MonkeyPatch) -> "S3Client":
    return fresh_bucket(moto, BUCKET, monkeypatch)


def once_before_deleting(client: "S3Client", act: Any) -> None:
    done: list[bool] = []

    def hook(**_: Any) -> None:
        if not done:
            done.append(True)
            act()

    client.meta.events.register_first("before-call.s3.DeleteObjects", hook)


def test_a_bucket_that_begins_keeping_versions_during_a_users_batch_counts_each_object_once(
    kit: RunnerKit, s3: "S3Client", moto: str
) -> None:
    for n in range(5):
        s3.put_object(Bucket=BUCKET, Key=f"exports/1/frank/{n}.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="exports/1/frankie/0.json", Body=b"{}")
    worker = boto3.client("s3", endpoint_url=moto)
    once_before_deleting(worker, lambda: keep_versions(s3, BUCKET))  # by the operator, mid-batch
    config = S3TargetConfig(
        name="exports", bucket=BUCKET, endpoint_url=moto, prefix="exports/{projectId}/{userId}/"
    )
    target = UserObjectsTarget(S3Objects(config, worker))

    job_id = kit.schedule("frank")
    kit.worker(kit.runner(batch_size=10, targets=[target])).run_due_jobs()

    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    # 5 objects; the delete markers the worker's own deletes made are not his data.
    assert kit.services.history.receipt(1, job_id) == {"exports": 5}
    assert stored(s3, BUCKET) == ({("exports/1/frankie/0.json", "null")}, set())


@pytest.mark.parametrize("versions", [False, True], ids=["plain", "versioned"])
def test_a_recording_written_while_a_batch_deletes_its_session_goes_with_it(
    kit: RunnerKit, s3: "S3Client", moto: str, versions: bool
) -> None:
    if versions:
        keep_versions(s3, BUCKET)
    seed_sessions(kit.services.database, 1, ["alice", "bob"], 2, None)
    alice, bob = session_ids(kit, "alice"), session_ids(kit, "bob")
    for session_id in alice + bob:
        s3.put_object(Bucket=BUCKET, Key=f"{session_id}/dom.mobs", Body=b"start")
    worker = boto3.client("s3", endpoint_url=moto)

    def the_recorder_writes() -> None:  # after the worker listed, before it deletes
        s3.put_object(Bucket=BUCKET, Key=f"{alice[0]}/dom.mobe", Body=b"end")
        s3.put_object(Bucket=BUCKET, Key=f"{alice[0]}/dom.mobs", Body=b"start, again")

    once_before_deleting(worker, the_recorder_writes)
    recordings = recordings_target(BUCKET, moto, None, sessions_from="sessions")
    config = TargetsConfig(
        targets=[
            SqlTargetConfig(name="sessions", table="sessions", id_column="session_id"),
            recordings,
        ]
    )
    [sessions] = build_targets(config, kit.services.database)
    sessions._session_files = [S3Objects(recordings, worker)]  # type: ignore[union-attr]

    job_id = kit.schedule("alice")
    kit.worker(kit.runner(batch_size=10, targets=[sessions])).run_due_jobs()

    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    left = {key for key, _ in stored(s3, BUCKET)[0] | stored(s3, BUCKET)[1]}
    assert left == {f"{session_id}/dom.mobs" for session_id in bob}
    # Plain: 2 objects (one of them rewritten), then the one that landed. Versioned:
    # 2 versions, then the 2 that landed.
    counted = 4 if versions else 3
    assert kit.services.history.receipt(1, job_id) == {"sessions": 2, "recordings": counted}


def test_a_sessions_objects_that_keep_appearing_fail_the_batch_counting_what_went(
    s3: "S3Client", moto: str
) -> None:
    s3.put_object(Bucket=BUCKET, Key="7/dom.mobs", Body=b"start")
    worker = boto3.client("s3", endpoint_url=moto)
    landed: list[int] = []

    def the_recorder_never_stops(**_: Any) -> None:
        landed.append(1)
        s3.put_object(Bucket=BUCKET, Key=f"7/canvas-{len(landed)}.mp4", Body=b"frame")

    worker.meta.events.register_first("before-call.s3.DeleteObjects", the_recorder_never_stops)
    objects = S3Objects(recordings_target(BUCKET, moto, None, "sessions"), worker)

    with pytest.raises(BatchInterrupted) as interrupted:
        objects.remove_sessions(1, "u", [7])

    assert isinstance(interrupted.value.cause, TransientTargetError)
    assert str(interrupted.value.cause) == (
        "recordings: objects of these sessions kept appearing as they were deleted"
    )
    assert interrupted.value.deleted == {"recordings": 3}  # what each pass listed
    assert {key for key, _ in stored(s3, BUCKET)[0]} == {"7/canvas-3.mp4"}
