"""What the certificate and proof tests share: a runner on the test's services, and a
signing key of their own."""

from pathlib import Path

import pytest

from api.composition import Services
from infrastructure.signing import SigningKey
from tests.certificates import new_key
from tests.runner_support import RunnerKit, runner_kit


@pytest.fixture
def kit(services: Services, tmp_path: Path) -> RunnerKit:
    return runner_kit(services, tmp_path)


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return new_key(tmp_path)
