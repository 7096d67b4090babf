"""Objects of a user, or of the user's sessions, in an S3 bucket (AWS S3, MinIO…).

A target names its objects by a key prefix, by exact keys, or both, with the same
placeholders and percent-encoding as files (infrastructure/key_patterns.py):
``prefix = "{sessionId}/"`` is every object of one session, and
``keys = ["{sessionId}", "{sessionId}e"]`` are two objects named exactly (OpenReplay's
older recordings). A prefix ends with ``/``, so session 12's never matches session
120's objects; an exact key is never a prefix (infrastructure/s3_listing.py). Only
keys under the prefix or equal to a key are listed, a key the server returns
outside them is never deleted, and neither is one that reads back, through any of
the target's patterns, as someone else's ids. Deletions go in ``DeleteObjects``
requests of at most 1,000.

A bucket that keeps versions (versioning enabled, or suspended after it was) keeps
a deleted object's data in its older versions, and puts a delete marker in front.
There every version and every delete marker of each matched key goes, by version
id, and **one unit of a receipt's count is one version or one delete marker** (a
marker holds no data, but its key can name the person: it goes, and is counted);
in a bucket without versions, one object. A batch's sessions are listed again
after their deletes, and what landed meanwhile goes too (their rows are the only
way to find their objects). ``remaining`` counts the same units, so
an object with old versions left is never "0 remaining". A bucket that begins
keeping versions while a batch deletes is asked again after it (a batch of a
user's objects leaves that to the next), and what the deletes left behind goes too;
the delete markers the worker's own deletes made then go uncounted. ``check``
refuses a bucket whose versions the worker could not delete: object lock or MFA
delete on, or versions it may not list.

Credentials come from the standard AWS chain (environment, profile, instance role),
never from jobtrail's configuration. Throttling and server errors are transient
(the runner retries them); any other error fails the job, naming the service's
error code. An error's message is made of the target's configuration (its name,
bucket, endpoint and patterns) and the error's code or type only: never of the
service's or botocore's own text, which can hold a request's URL, and so the
user's prefix (ADR 18).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from application.ports import BatchInterrupted, TransientTargetError
from infrastructure import s3_listing
from infrastructure.key_patterns import KeyReader, path_segment
from infrastructure.s3_listing import KEEPS_VERSIONS, Stored
from infrastructure.target_config import ConfigError, S3TargetConfig
from infrastructure.until_gone import removed_until_gone

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
    }
)


class S3TargetError(Exception):
    """S3 refused an operation for a reason that retrying will not change."""


def s3_client(config: S3TargetConfig) -> "S3Client":
    # Imported here: boto3 takes a fifth of a second to import, and most commands
    # (and most installations) never talk to S3.
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        config=Config(
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


class S3Objects:
    """The objects a target's prefix and exact keys name for a project, user and session."""

    counts_exactly = False  # S3 answers Deleted for a key already gone

    def __init__(self, config: S3TargetConfig, client: "S3Client | None" = None) -> None:
        self.name = config.name
        self.bucket = config.bucket
        self._prefix = config.prefix
        self._keys = config.keys
        self._reader = KeyReader(config.prefix, config.keys)
        self._endpoint = _shown_endpoint(config.endpoint_url)
        self._client = client or s3_client(config)
        self._versions = False  # once a bucket keeps versions, it always does
        self._made: set[str] = set()
        """Delete markers the worker's own deletes made (the bucket began keeping
        versions since it was asked): never the person's data, never counted."""

    def check(self) -> None:
        try:
            with self._errors():
                self._client.head_bucket(Bucket=self.bucket)
                self._client.list_objects_v2(Bucket=self.bucket, MaxKeys=1)
                refusal = self._refusal()
        except (S3TargetError, TransientTargetError) as error:
            refusal = str(error)
        if refusal is not None:
            raise ConfigError(f"Target {self.name}: bucket {self.bucket}: {refusal}") from None

    def describe(self) -> str:
        names = [f"under s3://{self.bucket}/{self._prefix}"] if self._prefix else []
        names += [f"s3://{self.bucket}/{key}" for key in self._keys]
        return f"{self.name}: objects {', '.join(names)}"

    def remove_sessions(self, project_id: int, user_id: str, session_ids: list[object]) -> int:
        """Everything of these sessions, every version: their rows are about to go, and
        with them the only way to find these objects again. So they are listed again
        after the deletes, and what landed meanwhile (a recording's last object, a new
        version, the data behind the markers of a bucket that began keeping versions)
        goes too, until a listing finds nothing; one that still finds some after
        ``PASSES`` deletes fails the batch, transiently (the rows stay)."""
        found = self._found(project_id, user_id, session_ids, self._keeps_versions())
        if not found:
            return 0

        def remove() -> list[int]:
            return [self.delete(found)]

        def left() -> bool:
            nonlocal found
            found = self._found(project_id, user_id, session_ids, self._keeps_versions())
            return bool(found)

        return removed_until_gone(self.name, "objects of these sessions", remove, left)

    def remove_user_objects(self, project_id: int, user_id: str, limit: int) -> int:
        """At most ``limit`` of the user's objects, or versions of them (no session:
        the next batch finds what this one leaves, whatever the bucket became, and
        the delete markers this one made go uncounted)."""
        found = self._found(project_id, user_id, [""], self._keeps_versions(), limit)
        return self.delete(found[:limit])

    def count(self, project_id: int, user_id: str, session_id: object = "") -> int:
        return len(self._found(project_id, user_id, [session_id], self._keeps_versions()))

    def delete(self, found: list[Stored]) -> int:
        """Deletes what was found; a failure after some are gone is a BatchInterrupted
        that counts them (they are gone for good: the receipt must say so). Returns
        how many went, but the delete markers the worker made."""
        deleted = 0
        for chunk in s3_listing.chunks(found):
            try:
                with self._errors():
                    done = s3_listing.delete(self._client, self.bucket, chunk, self._made)
                deleted += done.gone
                self._made |= done.made
                if done.error:
                    raise self._error(done.error)
            except (S3TargetError, TransientTargetError) as error:
                if deleted:
                    raise BatchInterrupted({self.name: deleted}, error) from error
                raise
        return deleted

    def _found(
        self,
        project_id: int,
        user_id: str,
        session_ids: list[object],
        versions: bool,
        limit: int | None = None,
    ) -> list[Stored]:
        """What the patterns name for these sessions (or for the user: ``[""]``),
        each once, in the order found; a name that reads as someone else's refuses."""
        # Everyone's session ids come from one column: if these are numbers, so are theirs.
        numbers = all(isinstance(s, int) and not isinstance(s, bool) for s in session_ids)
        found: dict[Stored, None] = {}
        with self._errors():
            for session_id in session_ids:
                ids = {
                    "projectId": path_segment(str(project_id)),
                    "userId": path_segment(user_id),
                    "sessionId": path_segment(str(session_id)),
                }
                named: list[Stored] = []
                if self._prefix is not None:
                    prefix = self._prefix.format(**ids)
                    named += s3_listing.under(self._client, self.bucket, prefix, versions, limit)
                for key in self._keys:
                    named += s3_listing.exactly(
                        self._client, self.bucket, key.format(**ids), versions
                    )
                for stored in named:
                    other = self._reader.someone_else(stored.key, ids, numbers)
                    if other is not None:
                        raise S3TargetError(
                            f"{self.name}: an object named for this person is also "
                            f"{other!r} of someone else: nothing of it deleted; name them apart"
                        )
                    found[stored] = None
        return list(found)

    def _keeps_versions(self) -> bool:
        if not self._versions:
            with self._errors():
                self._versions = s3_listing.keeps_versions(self._client, self.bucket)
        return self._versions

    def _refusal(self) -> str | None:
        """Why the worker could not delete every version of the bucket's objects."""
        versioning, code = self._ask(self._client.get_bucket_versioning)
        if code:
            return f"cannot read whether it keeps versions (S3 {code})"
        if versioning.get("MFADelete") == "Enabled":
            return "MFA delete is on: no version can be deleted without a device's code"
        if versioning.get("Status") not in KEEPS_VERSIONS:
            return None
        _, code = self._ask(self._client.list_object_versions, MaxKeys=1)
        if code:
            return f"it keeps versions, and the worker may not list them (S3 {code})"
        lock, code = self._ask(self._client.get_object_lock_configuration)
        if code == "ObjectLockConfigurationNotFoundError":
            return None
        if code:
            return f"cannot read whether object lock is on (S3 {code})"
        if lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled":
            return "object lock is on: a locked version cannot be deleted before its retention ends"
        return None

    def _ask(self, call: Callable[..., Any], **params: Any) -> tuple[Any, str]:
        """S3's answer about the bucket, or the code of its refusal."""
        try:
            return call(Bucket=self.bucket, **params), ""
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            return {}, str(error.response.get("Error", {}).get("Code") or status)

    def _error(self, code: str) -> Exception:
        text = f"{self.name}: S3 {code}"
        return TransientTargetError(text) if code in _TRANSIENT_CODES else S3TargetError(text)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """botocore's errors as the target's own, from None: neither their text nor
        their chain goes on (a traceback would show it)."""
        try:
            yield
        except ClientError as error:
            details: Any = error.response.get("Error", {})
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            failure = self._error(str(details.get("Code") or status))
            if status >= 500 and not isinstance(failure, TransientTargetError):
                failure = TransientTargetError(str(failure))
            raise failure from None
        except (ConnectionError, HTTPClientError) as error:
            raise TransientTargetError(
                f"{self.name}: S3 unreachable at {self._endpoint} ({type(error).__name__})"
            ) from None
        except BotoCoreError as error:
            raise S3TargetError(f"{self.name}: S3: {type(error).__name__}") from None


def _shown_endpoint(url: str | None) -> str:
    """The configured endpoint as a message may show it: scheme, host and port."""
    if url is None:
        return "AWS"
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"
