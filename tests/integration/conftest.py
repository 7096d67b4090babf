"""What the integration tests share: a runner on the test's services, a signing key
of their own, services whose deletions are due at once, and an S3 server (moto's)
for each module that asks for one."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from api.composition import Services, build_services
from infrastructure.settings import Settings
from infrastructure.signing import SigningKey
from tests.certificates import new_key
from tests.runner_support import RunnerKit, runner_kit
from tests.s3_server import moto_server


@pytest.fixture
def kit(services: Services, tmp_path: Path) -> RunnerKit:
    return runner_kit(services, tmp_path)


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return new_key(tmp_path)


@pytest.fixture
def due_at_once(database_url: str) -> Iterator[Services]:
    """Services whose deletions are due as soon as they are scheduled."""
    built = build_services(Settings(database_url=database_url, deletion_delay=timedelta(0)))
    yield built
    built.close()
