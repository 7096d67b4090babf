"""More than a page (1,000) of keys, versions and delete markers, on a real S3 HTTP
endpoint (moto's server): listing and deleting past a page keeps to exactly the
person's keys, and counts every version and marker once."""

from typing import TYPE_CHECKING

import pytest

from infrastructure.openreplay_recordings import recordings_target
from infrastructure.s3_targets import S3Objects
from infrastructure.target_config import S3TargetConfig
from tests.s3_server import fresh_bucket, keep_versions, put_objects, stored

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "mobs"


@pytest.fixture
def s3(moto: str, monkeypatch: pytest.MonkeyPatch) -> "S3Client":
    return fresh_bucket(moto, BUCKET, monkeypatch)


def test_more_than_a_page_of_versions_of_an_exact_key_go_every_one_and_no_longer_key(
    s3: "S3Client", moto: str
) -> None:
    keep_versions(s3, BUCKET)
    put_objects(moto, BUCKET, ["12"] * 1001 + ["12/dom.mobs"] * 2 + ["120"] * 5 + ["12e"] * 3)
    for _ in range(2):
        s3.delete_object(Bucket=BUCKET, Key="12")  # markers, one after the other
    s3.delete_object(Bucket=BUCKET, Key="120")
    objects = S3Objects(recordings_target(BUCKET, moto, None, "sessions"))
    before = stored(s3, BUCKET)

    assert objects.count(1, "u", 12) == 1001 + 2 + 2 + 3
    assert objects.remove_sessions(1, "u", [12]) == 1001 + 2 + 2 + 3

    versions, markers = stored(s3, BUCKET)
    assert {key for key, _ in versions} == {"120"} and len(versions) == 5
    assert markers == {m for m in before[1] if m[0] == "120"} and len(markers) == 1
    assert objects.count(1, "u", 12) == 0


def test_more_than_a_page_of_a_users_objects_go_a_batch_at_a_time_counted_once(
    s3: "S3Client", moto: str
) -> None:
    keep_versions(s3, BUCKET)
    mine = [f"exports/1/ann/{n:05}.json" for n in range(1500)]
    theirs = [f"exports/1/ann2/{n:05}.json" for n in range(1100)] + ["exports/1/anna/x"]
    put_objects(moto, BUCKET, mine + theirs + mine[:700])  # 700 of hers have two versions
    for key in mine[:10]:
        s3.delete_object(Bucket=BUCKET, Key=key)  # a marker in front of both versions
    objects = S3Objects(
        S3TargetConfig(
            name="exports", bucket=BUCKET, endpoint_url=moto, prefix="exports/{projectId}/{userId}/"
        )
    )
    hers = 1500 + 700 + 10
    assert objects.count(1, "ann") == hers

    batches = []
    while gone := objects.remove_user_objects(1, "ann", 1000):
        batches.append(gone)

    assert batches == [1000, 1000, 210]
    assert objects.count(1, "ann") == 0
    versions, markers = stored(s3, BUCKET)
    assert {key for key, _ in versions} == set(theirs) and not markers


def test_more_than_a_page_of_a_users_objects_in_a_plain_bucket_go_and_no_neighbours(
    s3: "S3Client", moto: str
) -> None:
    mine = [f"exports/1/bo/{n:05}" for n in range(1001)]
    theirs = ["exports/1/bo2/0", "exports/1/b/0", "exports/1/bo.d/0", "exports/12/bo/0"]
    put_objects(moto, BUCKET, mine + theirs)
    objects = S3Objects(
        S3TargetConfig(
            name="exports", bucket=BUCKET, endpoint_url=moto, prefix="exports/{projectId}/{userId}/"
        )
    )
    assert objects.count(1, "bo") == 1001

    assert objects.remove_user_objects(1, "bo", 1000) == 1000
    assert objects.count(1, "bo") == 1
    assert objects.remove_user_objects(1, "bo", 1000) == 1
    assert objects.remove_user_objects(1, "bo", 1000) == 0
    assert stored(s3, BUCKET) == ({(key, "null") for key in theirs}, set())
