"""Objects of a user, or of the user's sessions, in an S3 bucket (AWS S3, MinIO…).

A key prefix pattern names them with the same placeholders and percent-encoding
as files: ``{sessionId}/`` is every object of one session. A prefix ends with
``/``, so session 12's prefix never matches session 120's objects; only keys
under the prefix are ever listed, and a key the server returns outside it is
never deleted. Objects go in ``DeleteObjects`` requests of at most 1,000 keys.
Credentials come from the standard AWS chain (environment, profile, instance
role), never from jobtrail's configuration. Throttling and server errors are
transient (the runner retries them); any other error fails the job, naming the
service's error code.

An error's message is made of the target's configuration (its name, bucket and
endpoint) and the error's code or type only: never of the service's or botocore's
own text, which can hold a request's URL, and so the user's prefix (ADR 18).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from application.ports import BatchInterrupted, TransientTargetError
from infrastructure.file_targets import path_segment
from infrastructure.target_config import ConfigError, S3TargetConfig

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_KEYS_PER_DELETE = 1000
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


class S3Prefix:
    """The objects under a prefix the pattern names for a project, user and session."""

    def __init__(self, config: S3TargetConfig, client: "S3Client | None" = None) -> None:
        self.name = config.name
        self.bucket = config.bucket
        self.pattern = config.prefix
        self._endpoint = _shown_endpoint(config.endpoint_url)
        self._client = client or s3_client(config)

    def prefix(self, project_id: int, user_id: str, session_id: object = "") -> str:
        return self.pattern.format(
            projectId=path_segment(str(project_id)),
            userId=path_segment(user_id),
            sessionId=path_segment(str(session_id)),
        )

    def check(self) -> None:
        try:
            with self._errors():
                self._client.head_bucket(Bucket=self.bucket)
                self._client.list_objects_v2(Bucket=self.bucket, MaxKeys=1)
        except (S3TargetError, TransientTargetError) as error:
            raise ConfigError(f"Target {self.name}: bucket {self.bucket}: {error}") from None

    def describe(self) -> str:
        return f"{self.name}: objects s3://{self.bucket}/{self.pattern}"

    def remove_sessions(self, project_id: int, user_id: str, session_ids: list[object]) -> int:
        """Every object of these sessions: one listing each, deletions 1,000 keys a request."""
        keys = [
            key
            for session_id in session_ids
            for key in self.keys(self.prefix(project_id, user_id, session_id))
        ]
        return self.delete(keys)

    def count(self, project_id: int, user_id: str, session_id: object = "") -> int:
        return sum(1 for _ in self.keys(self.prefix(project_id, user_id, session_id)))

    def keys(self, prefix: str, limit: int | None = None) -> Iterator[str]:
        """The keys under ``prefix``, page by page (and at most ``limit``)."""
        found = 0
        with self._errors():
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if not key.startswith(prefix):
                        continue  # a server that answers outside the prefix is not obeyed
                    yield key
                    found += 1
                    if limit is not None and found >= limit:
                        return

    def delete(self, keys: list[str]) -> int:
        """Deletes the keys; a failure after some are gone is a BatchInterrupted that
        counts them (they are gone for good: the receipt must say so)."""
        deleted = 0
        for start in range(0, len(keys), MAX_KEYS_PER_DELETE):
            chunk = keys[start : start + MAX_KEYS_PER_DELETE]
            try:
                with self._errors():
                    answer = self._client.delete_objects(
                        Bucket=self.bucket,
                        Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": False},
                    )
                deleted += len(answer.get("Deleted", []))
                errors = answer.get("Errors", [])
                if errors:  # each names its key, which names the user: only the code
                    raise self._error(errors[0].get("Code", "?"))
            except (S3TargetError, TransientTargetError) as error:
                if deleted:
                    raise BatchInterrupted({self.name: deleted}, error) from error
                raise
        return deleted

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


class S3UserObjectsTarget:
    """Objects named by the user (no session): deleted ``limit`` at a time."""

    def __init__(self, prefix: S3Prefix) -> None:
        self._prefix = prefix

    @property
    def name(self) -> str:
        return self._prefix.name

    def check(self) -> None:
        self._prefix.check()

    def describe(self) -> list[str]:
        return [self._prefix.describe()]

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        prefix = self._prefix.prefix(project_id, user_id)
        return {self.name: self._prefix.delete(list(self._prefix.keys(prefix, limit)))}

    def remaining(self, project_id: int, user_id: str) -> dict[str, int]:
        return {self.name: self._prefix.count(project_id, user_id)}
