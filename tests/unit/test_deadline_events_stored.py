"""How the response deadline is stored: Scheduled events written before deadlines
decode with the law's month (sealed or in the clear), and an extension's reason is
sealed with the user's key, so forgetting the user forgets it too."""

from datetime import UTC, datetime, timedelta

import msgspec
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain.deadline import LATEST, ONE_MONTH
from domain.job import Job
from domain.lifecycle import JobStatus
from domain.request import FORGOTTEN
from infrastructure.mapper import MsgspecMapper
from tests.unit.test_job_transitions import T0, job_in, scheduled_job
from tests.unit.test_msgspec_mapper import mapper as mapper  # the fixture

REASON = "alice@example.com asked for her support tickets too"
LAST_SECOND_OF_JANUARY = datetime(2026, 1, 31, 23, 59, 59, 999000, tzinfo=UTC)


def as_version_1(stored: StoredEvent, **replace: object) -> StoredEvent:
    """The event as versions before deadlines stored it: no deadline, no version."""
    state = msgspec.json.decode(stored.state)
    del state["class_version"], state["respond_by"]
    state.update(replace)
    return StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=msgspec.json.Encoder(order="sorted").encode(state),
    )


def scheduled_at(requested: datetime) -> Job:
    return Job.schedule_user_deletion(
        job_id=9,
        project_id=3,
        user_id="alice@example.com",
        subject="s9",
        key_generation=0,
        start_at=requested,
        actor="key:k1",
        at=requested,
    )


def test_a_scheduled_event_is_stored_with_its_version_and_its_deadline(
    mapper: MsgspecMapper,
) -> None:
    scheduled = scheduled_job().collect_events()[0]
    state = msgspec.json.decode(mapper.to_stored_event(scheduled).state)
    assert state["class_version"] == 2
    assert datetime.fromisoformat(state["respond_by"]) == ONE_MONTH.after(T0)


def test_a_sealed_scheduled_event_from_before_deadlines_decodes_with_the_laws_month(
    mapper: MsgspecMapper,
) -> None:
    job = scheduled_at(LAST_SECOND_OF_JANUARY)
    old = as_version_1(mapper.to_stored_event(job.collect_events()[0]))
    assert b"respond_by" not in old.state and b"sealed" in old.state
    decoded = mapper.to_domain_event(old)
    assert isinstance(decoded, Job.Scheduled)
    assert decoded.respond_by == datetime(2026, 2, 28, 23, 59, 59, 999000, tzinfo=UTC)
    assert decoded.reference_id == "alice@example.com"


def test_a_scheduled_event_in_the_clear_from_before_deadlines_is_upcast_too(
    mapper: MsgspecMapper,
) -> None:
    scheduled = scheduled_at(LAST_SECOND_OF_JANUARY).collect_events()[0]
    state = {
        k: v for k, v in vars(scheduled).items() if k not in ("originator_id", "originator_version")
    }
    del state["respond_by"], state["subject"], state["key_generation"]
    clear = StoredEvent(
        originator_id=scheduled.originator_id,
        originator_version=1,
        topic=get_topic(type(scheduled)),
        state=msgspec.json.Encoder(order="sorted").encode(state),
    )
    decoded = mapper.to_domain_event(clear)
    assert isinstance(decoded, Job.Scheduled)
    assert decoded.respond_by == ONE_MONTH.after(LAST_SECOND_OF_JANUARY)
    assert decoded.reference_id == "alice@example.com"


def test_an_extensions_reason_is_stored_sealed_and_reads_back(mapper: MsgspecMapper) -> None:
    job = job_in(JobStatus.FAILED)
    job.extend_response_deadline(actor="operator:ann", at=T0 + timedelta(days=1), reason=REASON)
    extension = job.collect_events()[-1]
    stored = mapper.to_stored_event(extension)
    assert b"alice" not in stored.state and b"support" not in stored.state
    assert b"sealed" in stored.state
    decoded = mapper.to_domain_event(stored)
    assert decoded == extension
    assert decoded.respond_by == LATEST.after(T0)  # type: ignore[attr-defined]


def test_once_the_users_key_is_destroyed_the_reason_reads_as_forgotten(
    mapper: MsgspecMapper,
) -> None:
    job = job_in(JobStatus.FAILED)
    job.extend_response_deadline(actor="operator:ann", at=T0 + timedelta(days=1), reason=REASON)
    events = [mapper.to_stored_event(event) for event in job.collect_events()]
    mapper._vault.destroy([(job.subject, job.key_generation)])  # type: ignore[union-attr]
    scheduled, *_, extension = [mapper.to_domain_event(stored) for stored in events]
    assert isinstance(extension, Job.DeadlineExtended)
    assert extension.reason == FORGOTTEN
    assert extension.respond_by == LATEST.after(T0)  # the deadline itself is kept
    assert isinstance(scheduled, Job.Scheduled) and scheduled.reference_id == FORGOTTEN
    assert not hasattr(extension, "reference_id")  # only the event's own fields are forgotten
