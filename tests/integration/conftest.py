"""What the integration tests share: a runner on the test's services, a signing key
of their own, services whose deletions are due at once."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from api.composition import Services, build_services
from infrastructure.settings import Settings
from infrastructure.signing import SigningKey
from tests.certificates import new_key
from tests.runner_support import RunnerKit, runner_kit


@pytest.fixture
def kit(services: Services, tmp_path: Path) -> RunnerKit:
    return runner_kit(services, tmp_path)


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return new_key(tmp_path)


@pytest.fixture
def due_at_once(database_url: str) -> Iterator[Services]:
    """Services whose deletions are due as soon as they are scheduled."""
    built = build_services(Settings(database_url=database_url, deletion_delay=timedelta(0)))
    yield built
    built.close()
