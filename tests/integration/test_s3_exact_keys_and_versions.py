"""OpenReplay's older recordings (exact keys), and buckets that keep versions, on a
real S3 HTTP endpoint (moto's server), through the real runner with the sessions
table on both backends: every version of exactly the person's objects goes,
counted, and nobody else's."""

from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError

from domain.lifecycle import JobStatus
from infrastructure.openreplay_recordings import recordings_target
from infrastructure.s3_targets import S3Objects, S3TargetError
from infrastructure.session_store import seed_sessions
from infrastructure.target_config import ConfigError, S3TargetConfig, SqlTargetConfig, TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.integration.test_s3_target import session_ids
from tests.runner_support import RunnerKit
from tests.s3_server import (
    Faults,
    Version,
    fresh_bucket,
    keep_versions,
    s3_proxy,
    stored,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "mobs"


@pytest.fixture
def s3(moto: str, monkeypatch: pytest.MonkeyPatch) -> "S3Client":
    return fresh_bucket(moto, BUCKET, monkeypatch)


def readable(s3: "S3Client", version: Version) -> bool:
    try:
        s3.get_object(Bucket=BUCKET, Key=version[0], VersionId=version[1])
    except ClientError:
        return False
    return True


def recordings(moto: str) -> TargetsConfig:
    """The sessions table, and the recordings target `openreplay import` writes."""
    return TargetsConfig(
        targets=[
            SqlTargetConfig(name="sessions", table="sessions", id_column="session_id"),
            recordings_target(BUCKET, moto, None, sessions_from="sessions"),
        ]
    )


def run(kit: RunnerKit, config: TargetsConfig, user: str) -> tuple[str, dict[str, int]]:
    targets = build_targets(config, kit.services.database)
    check_targets(targets)
    job_id = kit.schedule(user)
    kit.worker(kit.runner(batch_size=7, targets=[*targets])).run_due_jobs()
    job = job_now(kit.services, 1, job_id)
    return job.status, kit.services.history.receipt(1, job_id)


def test_exact_keys_delete_a_sessions_older_recordings_and_never_a_longer_key(
    kit: RunnerKit, s3: "S3Client", moto: str
) -> None:
    seed_sessions(kit.services.database, 1, ["alice"], 3, None)
    seed_sessions(kit.services.database, 1, ["bob"], 40, None)
    alice, bob = session_ids(kit, "alice"), session_ids(kit, "bob")
    # bob has sessions whose ids start with one of alice's (1 starts 10..19, 2 starts 20..).
    assert any(str(b).startswith(str(a)) for a in alice for b in bob)
    for session_id in alice + bob:
        for key in (f"{session_id}", f"{session_id}e", f"{session_id}/dom.mobs"):
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"mob")
    # Nobody's, but a prefix match of alice's first session would take them.
    decoys = {f"{alice[0]}0", f"{alice[0]}1e", f"{alice[0]}e0", f"x{alice[0]}"}
    for key in decoys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"not alice's")
    before, _ = stored(s3, BUCKET)

    status, receipt = run(kit, recordings(moto), "alice")

    assert status == JobStatus.COMPLETED
    assert receipt == {"sessions": 3, "recordings": 9}
    gone = {(f"{s}{end}", "null") for s in alice for end in ("", "e", "/dom.mobs")}
    assert stored(s3, BUCKET)[0] == before - gone
    assert {(key, "null") for key in decoys} <= stored(s3, BUCKET)[0]
    assert kit.session_count("bob") == 40


def test_a_versioned_bucket_loses_every_version_and_marker_of_the_persons_objects_counted(
    kit: RunnerKit, s3: "S3Client", moto: str
) -> None:
    keep_versions(s3, BUCKET)
    seed_sessions(kit.services.database, 1, ["alice", "bob"], 4, None)
    alice, bob = session_ids(kit, "alice"), session_ids(kit, "bob")
    for session_id in alice + bob:
        for body in (b"first", b"second"):  # two versions each
            s3.put_object(Bucket=BUCKET, Key=f"{session_id}/dom.mobs", Body=body)
            s3.put_object(Bucket=BUCKET, Key=f"{session_id}e", Body=body)
        s3.put_object(Bucket=BUCKET, Key=f"{session_id}/devtools.mob", Body=b"console")
        s3.delete_object(Bucket=BUCKET, Key=f"{session_id}/devtools.mob")  # a marker
        s3.put_object(Bucket=BUCKET, Key=f"{session_id}", Body=b"old layout")
    versions, markers = stored(s3, BUCKET)
    hers = {v for v in versions if v[0].split("/")[0].removesuffix("e") in map(str, alice)}
    others_before = (versions - hers, {m for m in markers if m[0].split("/")[0] in map(str, bob)})
    assert len(hers) == 4 * 6 and all(readable(s3, version) for version in hers)

    status, receipt = run(kit, recordings(moto), "alice")

    assert status == JobStatus.COMPLETED
    # One unit a version or a delete marker: 6 versions and 1 marker a session.
    assert receipt == {"sessions": 4, "recordings": 4 * 7}
    assert not any(readable(s3, version) for version in hers)
    assert stored(s3, BUCKET) == others_before  # bob's versions and markers, every one
    assert all(readable(s3, version) for version in others_before[0])


def test_a_users_objects_left_as_old_versions_are_remaining_until_they_go(
    kit: RunnerKit, s3: "S3Client", moto: str
) -> None:
    keep_versions(s3, BUCKET)
    for body in (b"v1", b"v2"):
        s3.put_object(Bucket=BUCKET, Key="exports/1/frank/data.json", Body=body)
        s3.put_object(Bucket=BUCKET, Key="exports/2/frank/data.json", Body=body)
    s3.delete_object(Bucket=BUCKET, Key="exports/1/frank/data.json")  # "deleted": 2 versions stay
    config = S3TargetConfig(
        name="exports", bucket=BUCKET, endpoint_url=moto, prefix="exports/{projectId}/{userId}/"
    )
    [target] = build_targets(TargetsConfig(targets=[config]), kit.services.database)

    assert target.remaining(1, "frank") == {"exports": 3}  # not 0: the data is there
    status, receipt = run(kit, TargetsConfig(targets=[config]), "frank")

    assert status == JobStatus.COMPLETED and receipt == {"exports": 3}
    assert target.remaining(1, "frank") == {"exports": 0}
    assert {key for key, _ in stored(s3, BUCKET)[0]} == {"exports/2/frank/data.json"}


def test_a_bucket_that_begins_keeping_versions_while_a_batch_deletes_keeps_nothing(
    s3: "S3Client", moto: str
) -> None:
    for key in ("7/dom.mobs", "7", "7e", "70/dom.mobs"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"mob")
    worker = boto3.client("s3", endpoint_url=moto)

    def versioning_comes_on(**_: Any) -> None:
        keep_versions(s3, BUCKET)  # by the operator, between the worker's look and its delete

    worker.meta.events.register_first("before-call.s3.DeleteObjects", versioning_comes_on)
    objects = S3Objects(recordings_target(BUCKET, moto, None, "sessions"), worker)

    assert objects.remove_sessions(1, "u", [7]) == 3  # the 3 objects; no marker counted
    assert stored(s3, BUCKET) == ({("70/dom.mobs", "null")}, set())


def test_session_ids_that_are_not_numbers_never_let_an_exact_key_take_anothers_object(
    s3: "S3Client", moto: str
) -> None:
    s3.put_object(Bucket=BUCKET, Key="ab", Body=b"session ab's start")
    s3.put_object(Bucket=BUCKET, Key="abe", Body=b"session abe's start, or ab's end?")
    objects = S3Objects(
        S3TargetConfig(
            name="mobs",
            bucket=BUCKET,
            endpoint_url=moto,
            keys=["{sessionId}", "{sessionId}e"],
            sessions_from="sessions",
        )
    )

    with pytest.raises(S3TargetError, match=r"^mobs: .*'\{sessionId\}' of someone else"):
        objects.remove_sessions(1, "u", ["ab"])
    assert {key for key, _ in stored(s3, BUCKET)[0]} == {"ab", "abe"}


def test_a_bucket_the_worker_cannot_purge_is_refused_by_check_naming_why(
    s3: "S3Client", moto: str
) -> None:
    def check(bucket: str, endpoint: str) -> None:
        prefix = "{projectId}/{userId}/"
        S3Objects(
            S3TargetConfig(name="mobs", bucket=bucket, endpoint_url=endpoint, prefix=prefix)
        ).check()

    s3.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)
    with pytest.raises(ConfigError, match=r"^Target mobs: bucket locked: object lock is on"):
        check("locked", moto)

    keep_versions(s3, BUCKET)
    check(BUCKET, moto)  # versions it may list and delete: fine
    faults = Faults()
    with s3_proxy(moto, faults) as proxy:
        faults.add(lambda method, path: "versions" in path.split("?", 1)[-1], 403, "AccessDenied")
        with pytest.raises(ConfigError) as refused:
            check(BUCKET, proxy)
        faults.add(lambda method, path: "versioning" in path.split("?", 1)[-1], 403, "AccessDenied")
        with pytest.raises(ConfigError) as unknown:
            check(BUCKET, proxy)
    assert str(refused.value) == (
        "Target mobs: bucket mobs: it keeps versions, and the worker may not list them "
        "(S3 AccessDenied)"
    )
    assert str(unknown.value) == (
        "Target mobs: bucket mobs: cannot read whether it keeps versions (S3 AccessDenied)"
    )
