"""A deletion target's errors are made from its configuration (its name, table,
bucket, pattern) and the library's error type or code, never from text a library
rendered with the user's id in it: a driver's parameters, botocore's request URL
(ADR 18; the runner's redaction is only the last net behind this)."""

from collections.abc import Callable

import pytest
from sqlalchemy import text

from api.composition import Services
from application.ports import DeletionTarget
from infrastructure.target_config import S3TargetConfig, SqlTargetConfig, TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.process.conftest import free_port
from tests.s3_server import CREDENTIALS

# A backslash and quotes: a driver's parameters show them escaped (Python's repr).
USER = "zoë 'o\\brien' smith@example.com"


def shows_the_user(message: str) -> bool:
    """Letters are never escaped by any encoding: every form of the id holds this."""
    return "smith" in message.lower()


def failure_of(target: DeletionTarget) -> list[str]:
    """The messages of a batch's and a count's errors, and of what they came from."""
    messages = []
    attempts: list[Callable[[], object]] = [
        lambda: target.delete_batch(1, USER, 10),
        lambda: target.remaining(1, USER),
    ]
    for attempt in attempts:
        with pytest.raises(Exception) as raised:
            attempt()
        error: BaseException | None = raised.value
        while error is not None:
            messages.append(f"{type(error).__name__}: {error}")
            error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return messages


def test_a_sql_targets_error_names_its_table_and_never_the_user(services: Services) -> None:
    with services.database.writer() as conn:
        conn.execute(
            text("CREATE TABLE exports (id INTEGER PRIMARY KEY, user_id TEXT, project_id INTEGER)")
        )
    [target] = build_targets(
        TargetsConfig(targets=[SqlTargetConfig(name="exports", table="exports")]),
        services.database,
    )
    check_targets([target])
    with services.database.writer() as conn:
        conn.execute(text("DROP TABLE exports"))  # gone after the check: every statement fails

    messages = failure_of(target)

    assert messages and all("exports: table exports" in message for message in messages[:1])
    assert not any(shows_the_user(message) for message in messages), messages


def test_an_unreachable_s3_targets_error_names_its_bucket_and_never_the_user(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    [target] = build_targets(
        TargetsConfig(
            targets=[
                S3TargetConfig(
                    name="exports",
                    bucket="exports",
                    endpoint_url=endpoint,
                    prefix="{projectId}/{userId}/",
                )
            ]
        ),
        services.database,
    )

    messages = failure_of(target)

    assert f"exports: S3 unreachable at {endpoint}" in messages[0], messages
    assert not any(shows_the_user(message) for message in messages), messages
