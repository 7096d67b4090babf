"""The msgspec mapper stores events canonically and decodes them back typed."""

from datetime import UTC, datetime

import msgspec
import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent

from domain.job import Job
from domain.lifecycle import JobStatus
from infrastructure.mapper import MsgspecMapper
from tests.unit.test_job_transitions import at, job_in


def test_every_job_event_survives_a_round_trip_with_its_types() -> None:
    mapper = MsgspecMapper()
    job = job_in(JobStatus.FAILED)
    for event in job.collect_events():
        decoded = mapper.to_domain_event(mapper.to_stored_event(event))
        assert decoded == event
        assert type(decoded) is type(event)
        assert isinstance(decoded.timestamp, datetime)
        assert decoded.timestamp.tzinfo is not None


def test_stored_state_is_canonical_json_with_sorted_keys() -> None:
    mapper = MsgspecMapper()
    job = job_in(JobStatus.SCHEDULED)
    stored = mapper.to_stored_event(job.collect_events()[0])
    state = msgspec.json.decode(stored.state)
    assert list(state) == sorted(state)
    assert stored.topic == "domain.job:Job.Scheduled"
    assert b"originator_id" not in stored.state


def test_a_stored_event_with_a_wrongly_typed_field_is_refused_not_guessed() -> None:
    mapper = MsgspecMapper()
    job = job_in(JobStatus.RUNNING)
    started = mapper.to_stored_event(job.collect_events()[1])
    broken = StoredEvent(
        originator_id=started.originator_id,
        originator_version=started.originator_version,
        topic=started.topic,
        state=b'{"actor": 42, "timestamp": "2026-01-01T00:00:00Z"}',
    )
    with pytest.raises(MapperDeserialisationError):
        mapper.to_domain_event(broken)


def test_the_injected_time_is_what_gets_stored() -> None:
    job = Job.schedule_user_deletion(
        job_id=1,
        project_id=1,
        user_id="u",
        start_at=at(1),
        actor="a",
        at=datetime(2020, 2, 29, 23, 59, 59, 123000, tzinfo=UTC),
    )
    stored = MsgspecMapper().to_stored_event(job.collect_events()[0])
    assert b'"timestamp":"2020-02-29T23:59:59.123000Z"' in stored.state
