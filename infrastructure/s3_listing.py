"""What an S3 target finds and deletes: the objects under a prefix or at an exact
key, or, in a bucket that keeps versions, every version and delete marker of them.

S3 lists keys in order, and a key before every longer key that starts with it: so
an exact key is looked up by listing from it and reading only that very key (one
request), never by taking what its prefix matches (``12`` starts ``120``).
"""

from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_KEYS_PER_DELETE = 1000
KEEPS_VERSIONS = frozenset({"Enabled", "Suspended"})
"""A suspended bucket stops making versions, but keeps those it made."""


class Stored(NamedTuple):
    """One thing the bucket stores: an object, or one version or delete marker of it
    (``version`` None: the object of a bucket that keeps no versions)."""

    key: str
    version: str | None = None


def under(
    client: "S3Client", bucket: str, prefix: str, versions: bool, limit: int | None = None
) -> Iterator[Stored]:
    """What is stored under ``prefix`` (at most ``limit``), page by page."""
    found = 0
    for page in _pages(client, bucket, prefix, versions):
        for stored in page:
            if not stored.key.startswith(prefix):
                continue  # a server that answers outside the prefix is not obeyed
            yield stored
            found += 1
            if limit is not None and found >= limit:
                return


def exactly(client: "S3Client", bucket: str, key: str, versions: bool) -> list[Stored]:
    """What is stored at exactly ``key``: the object, or all its versions and markers."""
    if not versions:
        answer = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        first = answer.get("Contents", [])[:1]
        return [Stored(key)] if first and first[0]["Key"] == key else []
    found: list[Stored] = []
    for page in _pages(client, bucket, key, versions):
        found += [stored for stored in page if stored.key == key]
        if any(stored.key != key for stored in page):
            break  # past the key: every version of it came before
    return found


class Deleted(NamedTuple):
    gone: int
    """How many went (delete markers a request made instead are not among them)."""
    made: set[str]
    """Delete markers the request made instead of deleting: the bucket began keeping
    versions since it was asked, and the data is still there, behind them."""
    error: str
    """The first error's code, or "" (each error names its key, which can name the
    person: only the code goes on)."""


def delete(
    client: "S3Client", bucket: str, chunk: list[Stored], uncounted: Collection[str] = ()
) -> Deleted:
    """Deletes at most 1,000 stored things in one request; ``uncounted`` versions
    (markers an earlier request made) go without being counted."""
    answer = client.delete_objects(
        Bucket=bucket,
        Delete={
            "Objects": [
                {"Key": s.key, "VersionId": s.version} if s.version else {"Key": s.key}
                for s in chunk
            ],
            "Quiet": False,
        },
    )
    made: set[str] = set()
    gone = 0
    for done in answer.get("Deleted", []):
        if done.get("DeleteMarker") and not done.get("VersionId"):
            made.add(str(done.get("DeleteMarkerVersionId")))
        elif done.get("VersionId") not in uncounted:
            gone += 1
    errors = answer.get("Errors", [])
    return Deleted(gone, made, str(errors[0].get("Code", "?")) if errors else "")


def keeps_versions(client: "S3Client", bucket: str) -> bool:
    return client.get_bucket_versioning(Bucket=bucket).get("Status") in KEEPS_VERSIONS


def chunks(stored: list[Stored]) -> Iterator[list[Stored]]:
    for start in range(0, len(stored), MAX_KEYS_PER_DELETE):
        yield stored[start : start + MAX_KEYS_PER_DELETE]


def _pages(client: "S3Client", bucket: str, prefix: str, versions: bool) -> Iterator[list[Stored]]:
    if not versions:
        listing = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in listing:
            yield [Stored(item["Key"]) for item in page.get("Contents", [])]
        return
    versioned = client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    for answer in versioned:
        entries: list[Any] = [*answer.get("Versions", []), *answer.get("DeleteMarkers", [])]
        yield [Stored(entry["Key"], entry["VersionId"]) for entry in entries]
