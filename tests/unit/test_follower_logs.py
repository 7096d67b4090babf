"""A projection that loses its footing says why in its log line."""

import threading

import pytest

from application.follower import ProjectionFollower


class FailingLeadership:
    def __init__(self) -> None:
        self.tried = threading.Event()

    def try_acquire(self) -> bool:
        self.tried.set()
        raise ConnectionError("server closed the connection unexpectedly")

    def wait_for_events(self, timeout: float) -> bool:
        return False

    def release(self) -> None:
        return None


class NamedProjector:
    name = "jobs"


def test_the_cause_of_a_lost_footing_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    leadership = FailingLeadership()
    follower = ProjectionFollower(
        NamedProjector(),  # type: ignore[arg-type]
        leadership,
        store=None,  # type: ignore[arg-type]
        interval=0.01,
    )
    with caplog.at_level("WARNING", logger="jobtrail.projection"):
        follower.start()
        assert leadership.tried.wait(5)
        follower.stop()
    assert "ConnectionError: server closed the connection unexpectedly" in caplog.text
