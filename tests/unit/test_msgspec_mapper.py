"""The msgspec mapper stores events canonically and decodes them back typed."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent

from domain.job import Job
from domain.lifecycle import JobStatus
from infrastructure.database import Database, parse_database_url
from infrastructure.mapper import MsgspecMapper
from infrastructure.personal_data import PersonalDataVault
from infrastructure.schema import prepare_database
from tests.unit.test_job_transitions import at, job_in, scheduled_job


@pytest.fixture
def mapper(tmp_path: Path) -> Iterator[MsgspecMapper]:
    """A mapper whose personal data keys are in a real (SQLite) database."""
    database = Database(parse_database_url(f"sqlite:///{tmp_path / 'keys.db'}"))
    prepare_database(database)
    yield MsgspecMapper(vault=PersonalDataVault(database))
    database.dispose()


def test_every_job_event_survives_a_round_trip_with_its_types(mapper: MsgspecMapper) -> None:
    job = job_in(JobStatus.FAILED)
    for event in job.collect_events():
        decoded = mapper.to_domain_event(mapper.to_stored_event(event))
        assert decoded == event
        assert type(decoded) is type(event)
        assert isinstance(decoded.timestamp, datetime)
        assert decoded.timestamp.tzinfo is not None


def test_stored_state_is_canonical_json_with_sorted_keys(mapper: MsgspecMapper) -> None:
    job = job_in(JobStatus.SCHEDULED)
    stored = mapper.to_stored_event(job.collect_events()[0])
    state = msgspec.json.decode(stored.state)
    assert list(state) == sorted(state)
    assert stored.topic == "domain.job:Job.Scheduled"
    assert b"originator_id" not in stored.state


def test_a_stored_event_with_a_wrongly_typed_field_is_refused_not_guessed(
    mapper: MsgspecMapper,
) -> None:
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


def test_the_injected_time_is_what_gets_stored(mapper: MsgspecMapper) -> None:
    job = Job.schedule_user_deletion(
        job_id=1,
        project_id=1,
        user_id="u",
        subject="s1",
        key_generation=0,
        start_at=at(1),
        actor="a",
        at=datetime(2020, 2, 29, 23, 59, 59, 123000, tzinfo=UTC),
    )
    stored = mapper.to_stored_event(job.collect_events()[0])
    assert b'"timestamp":"2020-02-29T23:59:59.123000Z"' in stored.state


def test_a_user_id_is_stored_only_sealed_and_reads_back_in_the_clear(
    mapper: MsgspecMapper,
) -> None:
    scheduled = job_in(JobStatus.SCHEDULED).collect_events()[0]
    stored = mapper.to_stored_event(scheduled)
    assert b"alice@example.com" not in stored.state
    assert b"sealed" in stored.state
    assert mapper.to_domain_event(stored) == scheduled


def test_a_mapper_without_keys_refuses_to_store_personal_data_in_the_clear() -> None:
    scheduled = job_in(JobStatus.SCHEDULED).collect_events()[0]
    with pytest.raises(LookupError):
        MsgspecMapper().to_stored_event(scheduled)


def test_a_sealed_field_moved_to_another_event_does_not_open(mapper: MsgspecMapper) -> None:
    stored = mapper.to_stored_event(job_in(JobStatus.SCHEDULED).collect_events()[0])
    moved = StoredEvent(
        originator_id="00000000-0000-0000-0000-000000000001",
        originator_version=1,
        topic=stored.topic,
        state=stored.state,
    )
    with pytest.raises(MapperDeserialisationError):
        mapper.to_domain_event(moved)


def test_a_late_account_stored_before_unconfirmed_counts_reads_as_having_none(
    mapper: MsgspecMapper,
) -> None:
    job = scheduled_job()
    job.start(actor="worker:w1", at=at(1), lease_until=at(30))
    job.take_over(actor="worker:w2", at=at(60), lease_until=at(90))
    job.account_late(actor="worker:w1", deleted={"sessions": 2}, at=at(61))
    late = job.collect_events()[-1]
    stored = mapper.to_stored_event(late)
    state = msgspec.json.decode(stored.state)
    del state["unconfirmed"]  # as the version before it stored the account
    older = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=msgspec.json.encode(state, order="sorted"),
    )
    decoded = mapper.to_domain_event(older)
    assert isinstance(decoded, Job.LateBatchDeleted) and decoded.unconfirmed is None
