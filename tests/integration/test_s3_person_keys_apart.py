"""Hostile names on a real S3 HTTP endpoint (moto's server): user ids that start
other user ids, that hold ``/``, ``..``, ``*``, ``%``, ``+``, spaces, unicode in two
normalizations or another case, keys under another project's prefix, and more
than a page of keys and versions. Each job takes exactly the person's objects,
every version and delete marker of them, and counts each once."""

import unicodedata
from typing import TYPE_CHECKING

import pytest

from infrastructure.key_patterns import path_segment
from infrastructure.s3_targets import S3Objects
from infrastructure.target_config import S3TargetConfig
from tests.s3_server import fresh_bucket, keep_versions, put_objects, stored

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "exports"
PREFIX = "exports/{projectId}/{userId}/"


@pytest.fixture
def s3(moto: str, monkeypatch: pytest.MonkeyPatch) -> "S3Client":
    return fresh_bucket(moto, BUCKET, monkeypatch)


def user_objects(moto: str, prefix: str = PREFIX, keys: list[str] | None = None) -> S3Objects:
    return S3Objects(
        S3TargetConfig(
            name="exports", bucket=BUCKET, endpoint_url=moto, prefix=prefix, keys=keys or []
        )
    )


def delete_all(objects: S3Objects, project_id: int, user_id: str) -> int:
    total = 0
    while True:
        gone = objects.remove_user_objects(project_id, user_id, 1000)
        if not gone:
            return total
        total += gone


USERS = [
    "alice",
    "alice2",
    "ali",
    "Alice",
    "ALICE",
    "a/b",
    "a",
    "a%2Fb",
    "..",
    ".",
    "%2E%2E",
    "*",
    "a*",
    "50%",
    "a+b",
    "a b",
    "a%20b",
    unicodedata.normalize("NFC", "jos\u00e9"),
    unicodedata.normalize("NFD", "jos\u00e9"),
    "\u00e9",
    "\u0130",  # İ: lowercases to two code points
    "x\x01y",
    "tab\there",
    "new\nline",
    "amp&lt;",
    "quote'\"",
    "back\\slash",
    "\U0001f600",
]


@pytest.mark.parametrize("versions", [False, True], ids=["plain", "versioned"])
def test_each_users_objects_go_with_their_own_job_and_nobody_elses(
    s3: "S3Client", moto: str, versions: bool
) -> None:
    if versions:
        keep_versions(s3, BUCKET)
    objects = user_objects(moto)
    owned: dict[tuple[int, str], set[str]] = {}
    puts: list[tuple[str, bytes]] = []
    for project in (1, 12):
        for user in USERS:
            folder = f"exports/{project}/{path_segment(user)}/"
            names = {f"{folder}data.json", f"{folder}deep/x y+z%41.bin"}
            for key in names:
                puts.append((key, user.encode()))
                if versions:
                    puts.append((key, b"second"))
            owned[(project, user)] = names
    put_objects(moto, BUCKET, puts)
    if versions:
        for project, user in owned:
            folder = f"exports/{project}/{path_segment(user)}/"
            s3.delete_object(Bucket=BUCKET, Key=f"{folder}data.json")  # a marker
    assert len({k for names in owned.values() for k in names}) == 4 * len(USERS)

    before_versions, before_markers = stored(s3, BUCKET)
    for (project, user), names in owned.items():
        expected = 2 * len(names) + 1 if versions else len(names)
        assert objects.count(project, user) == expected, (project, user)
        assert delete_all(objects, project, user) == expected, (project, user)
        after_versions, after_markers = stored(s3, BUCKET)
        assert {k for k, _ in before_versions - after_versions} == names, (project, user)
        assert {k for k, _ in before_markers - after_markers} <= names
        assert not {k for k, _ in after_versions | after_markers} & names
        assert objects.count(project, user) == 0
        before_versions, before_markers = after_versions, after_markers  # nothing between
    assert stored(s3, BUCKET) == (set(), set())
