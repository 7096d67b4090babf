"""A log that began before personal data was sealed: its old events stay readable,
its old rules still hold, and its users are forgotten in every view (while the
log's own bytes keep what was written in the clear, as ADR 18 says)."""

from datetime import timedelta
from typing import Any

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from sqlalchemy import update

from api.composition import Services, build_services
from application.errors import DamagedRecord
from application.forgetting import ForgetReport
from application.proof import prove
from domain.job import Job
from domain.request import FORGOTTEN
from domain.user_deletions import UserDeletions, legacy_user_deletions_id
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.personal_data import SEALED_FROM
from infrastructure.tables import service_secrets
from tests.conftest import job_now
from tests.damaging import UNKNOWN_TOPIC, Damage, damage
from tests.integration.test_forgettable_personal_data import forgetting, holds
from tests.runner_support import T0, RunnerKit, runner_kit

OLD_USER = "old-timer.51c0@example.com"


def stored_in_the_clear(event: Any, **replace: Any) -> StoredEvent:
    """The event as the versions before sealing stored it: every field in the clear."""
    state = {
        k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version")
    }
    state.pop("subject", None)
    state.pop("key_generation", None)
    state.update(replace)
    return StoredEvent(
        originator_id=event.originator_id,
        originator_version=event.originator_version,
        topic=get_topic(type(event)),
        state=msgspec.json.Encoder(order="sorted").encode(state),
    )


def upgraded_from_a_clear_log(services: Services, tmp_path: Any) -> Services:
    """A job and its ledger written by an old version, then the database upgraded."""
    job = Job.schedule_user_deletion(
        job_id=SqlJobIdAllocator(services.database).next_job_ids(1)[0],
        project_id=1,
        user_id=OLD_USER,
        subject="unused",
        key_generation=0,
        start_at=T0 + timedelta(days=1),
        actor="key:old",
        at=T0,
    )
    ledger = UserDeletions._create(
        UserDeletions.Opened, id=legacy_user_deletions_id(1, OLD_USER), timestamp=T0, project_id=1
    )
    ledger.assign(job.job_id, at=T0)
    opened, assigned = ledger.collect_events()
    services.log.recorder.insert_events(
        [
            stored_in_the_clear(job.collect_events()[0]),
            stored_in_the_clear(opened, user_id=OLD_USER),
            stored_in_the_clear(assigned),
        ]
    )
    with services.database.writer() as conn:
        conn.execute(
            update(service_secrets)
            .where(service_secrets.c.name == SEALED_FROM)
            .values(value=str(services.log.head() + 1))
        )
    upgraded = build_services(services.settings)
    upgraded.projector.catch_up()
    return upgraded


def test_an_old_job_reads_as_before_and_still_holds_the_users_one_active_deletion(
    services: Services, tmp_path: Any
) -> None:
    upgraded = upgraded_from_a_clear_log(services, tmp_path)
    try:
        kit = runner_kit(upgraded, tmp_path)
        [old] = [row for row in upgraded.read_model.every_job()]
        assert old.reference_id == OLD_USER
        again = kit.commands.schedule_user_deletion(1, OLD_USER, "key:new").job
        assert again.job_id == old.job_id
        kit.commands.cancel(1, old.job_id, "key:new")
        new = kit.commands.schedule_user_deletion(1, OLD_USER, "key:new").job
        assert new.job_id != old.job_id
        assert [p.job.job_id for p in prove(upgraded.log, OLD_USER, [1])] == [
            old.job_id,
            new.job_id,
        ]
    finally:
        upgraded.close()


def test_an_old_job_is_forgotten_in_every_view_and_the_report_says_its_bytes_remain(
    services: Services, tmp_path: Any
) -> None:
    upgraded = upgraded_from_a_clear_log(services, tmp_path)
    try:
        kit: RunnerKit = runner_kit(upgraded, tmp_path)
        [old] = list(upgraded.read_model.every_job())
        kit.commands.cancel(1, old.job_id, "key:new")
        upgraded.projector.catch_up()

        report = forgetting(kit, days_later=31).forget_due()

        assert report == ForgetReport(users=0, jobs=1, keys=0, unsealed_jobs=1)
        assert job_now(upgraded, 1, old.job_id).reference_id == FORGOTTEN
        [proven] = prove(upgraded.log, OLD_USER, [1])
        assert proven.forgotten
        # Honest: the Scheduled event written in the clear is still in the log.
        assert holds(upgraded, OLD_USER)
    finally:
        upgraded.close()


def test_an_old_ledger_that_cannot_be_read_refuses_a_new_job_as_todays_would(
    services: Services, tmp_path: Any
) -> None:
    """Its job may still be active: a second one would break the one active deletion."""
    upgraded = upgraded_from_a_clear_log(services, tmp_path)
    try:
        damage(upgraded, legacy_user_deletions_id(1, OLD_USER), Damage(UNKNOWN_TOPIC, 2))
        kit = runner_kit(build_services(upgraded.settings), tmp_path)
        with pytest.raises(DamagedRecord):
            kit.commands.schedule_user_deletion(1, OLD_USER, "key:new")
        assert len(list(upgraded.read_model.every_job())) == 1
    finally:
        upgraded.close()
