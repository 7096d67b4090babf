"""Scheduling on PostgreSQL takes a batch's users to be new, without reading, when the
users of the batch it read last were (infrastructure/postgres_scheduling_store.py):
the append checks the guess, and a wrong one costs a read, never a wrong answer."""

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from api.composition import Services, build_services
from application.audit import compare, refold_all
from application.outcome import Outcome
from application.scheduling import ScheduleRequest, Scheduling
from infrastructure import postgres_scheduling_store
from infrastructure.chain import verify_chain
from infrastructure.clock import SystemClock
from infrastructure.event_store import keys_to_make
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.personal_data import PersonalDataVault
from infrastructure.postgres_scheduling_store import PostgresSchedulingStore
from infrastructure.settings import Settings
from tests.scheduling import SchedulingCommands

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


class CountingStore(PostgresSchedulingStore):
    """Scheduling's store on PostgreSQL, counting the statements it sends."""

    statements = 0

    def _connection(self) -> Any:
        self.statements += 1
        return super()._connection()


def a_store_of_its_own(process: Services) -> CountingStore:
    """As the API process's own store: sealing with the vault its log's mapper uses."""
    vault: PersonalDataVault = process.log.vault  # type: ignore[attr-defined]
    return CountingStore(process.database, process.log, vault, size=2, deadline=10)


@contextmanager
def another_process(services: Services) -> Iterator[Services]:
    """Another API process on the same database: its own log, its own data keys' cache,
    its own job ids at hand."""
    other = build_services(services.settings)
    try:
        yield other
    finally:
        other.close()


def batches_decided(
    services: Services, store: CountingStore, *batches: Sequence[str]
) -> list[tuple[list[Outcome | Exception], int]]:
    """Each batch of users decided together, in turn: its answers and the statements
    it took."""
    settings = services.settings
    scheduling = Scheduling(
        store, services.log, SystemClock(), settings.deletion_delay, settings.response_period
    )

    async def decide() -> list[tuple[list[Outcome | Exception], int]]:
        await store.open()
        try:
            decided = []
            for users in batches:
                before = store.statements
                answers = await scheduling.schedule([ScheduleRequest(1, u, "key:k") for u in users])
                decided.append((answers, store.statements - before))
            return decided
        finally:
            await store.close()

    return asyncio.run(decide())


def job_ids(answers: list[Outcome | Exception]) -> list[int]:
    return [answer.job.job_id for answer in answers if isinstance(answer, Outcome)]


def another_writer(services: Services) -> SchedulingCommands:
    return SchedulingCommands(
        services.log, SqlJobIdAllocator(services.database), SystemClock(), timedelta(0)
    )


def read_model_is_the_log_refolded(services: Services) -> None:
    services.projector.catch_up()
    assert list(compare(refold_all(services.log), services.read_model.every_job())) == []
    assert verify_chain(services.log, services.database).intact


def test_after_a_batch_of_new_users_a_batch_of_new_users_is_one_statement(
    due_at_once: Services,
) -> None:
    services = due_at_once
    with another_process(services) as api:
        first, second, third = batches_decided(
            api, a_store_of_its_own(api), ["ada", "bob"], ["cy", "dan", "eve"], ["fay"]
        )
    assert first[1] == 2  # its reads, then its append
    assert second[1] == 1 and third[1] == 1  # the append alone
    assert len(set(job_ids(first[0] + second[0] + third[0]))) == 6
    read_model_is_the_log_refolded(services)


def test_a_user_another_process_scheduled_meanwhile_is_answered_with_that_job(
    due_at_once: Services,
) -> None:
    services = due_at_once
    with another_process(services) as api:
        store = a_store_of_its_own(api)
        batches_decided(api, store, ["ada"])  # the store now takes users to be new
        bob = another_writer(services).schedule_user_deletion(1, "bob", "key:k").job

        [(answers, statements)] = batches_decided(api, store, ["cy", "bob", "dan"])

    cy, bob_again, dan = job_ids(answers)
    assert bob_again == bob.job_id
    assert len({cy, bob.job_id, dan}) == 3
    assert statements == 1 + 3  # the guess, refused; the read, bob's job's, the append
    read_model_is_the_log_refolded(services)


def test_after_a_known_user_the_next_batch_is_read(due_at_once: Services) -> None:
    services = due_at_once
    ada = another_writer(services).schedule_user_deletion(1, "ada", "key:k").job
    with another_process(services) as api:
        first, second = batches_decided(api, a_store_of_its_own(api), ["ada", "bob"], ["cy"])
    assert job_ids(first[0])[0] == ada.job_id
    # A known user costs the read of their job; the batch after is read, as it
    # may hold known users too.
    assert first[1] == 3 and second[1] == 2
    read_model_is_the_log_refolded(services)


def test_two_processes_guessing_for_the_same_new_users_give_each_one_job(
    due_at_once: Services,
) -> None:
    services = due_at_once
    with another_process(services) as api_one, another_process(services) as api_two:
        one, two = a_store_of_its_own(api_one), a_store_of_its_own(api_two)
        batches_decided(api_one, one, ["ada"])
        batches_decided(api_two, two, ["bob"])
        # Both now take users to be new: the first to append wins, the other reads it.
        [(first, _)] = batches_decided(api_one, one, ["cy", "dan"])
        [(second, _)] = batches_decided(api_two, two, ["dan", "cy"])
    assert job_ids(first) == job_ids(second)[::-1]
    read_model_is_the_log_refolded(services)


def test_a_forgotten_user_taken_as_new_gets_no_key_of_the_generation_forgotten(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API process scheduled ada (her key of generation 0 cached); another process
    cancels and forgets her (that key destroyed); the API process, whose last batch
    held only new users, takes her to be new again: her ledger opened anew, sealed
    with generation 0. Its vault hears of the destroyed key between the making of the
    batch's keys (none: the key was cached) and the sealing. The sealing must not make
    the key itself, outside the append: the append is refused (her ledger exists), and
    a key made beside it would stay, and her forgotten job would read as damaged."""
    settings = Settings(
        database_url=database_url, deletion_delay=timedelta(0), forget_after=timedelta(0)
    )
    api, worker = build_services(settings), build_services(settings)
    store = api.scheduling._store  # the service's own store: it seals with the log's vault
    assert isinstance(store, PostgresSchedulingStore)
    scheduling = Scheduling(
        store, api.log, SystemClock(), settings.deletion_delay, settings.response_period
    )

    def then_the_vault_looks_again(vault: Any, events: Any, look_up: bool) -> Any:
        made = keys_to_make(vault, events, look_up)
        vault._next_look = 0.0  # its once-a-second look is due before the sealing
        return made

    async def schedule_forget_schedule() -> tuple[Outcome | Exception, Outcome | Exception]:
        await store.open()
        try:
            (first,) = await scheduling.schedule([ScheduleRequest(1, "ada", "key:k")])
            assert isinstance(first, Outcome)
            another_writer(worker).cancel(1, first.job.job_id, "key:k")
            await asyncio.to_thread(worker.projector.catch_up)
            assert (await asyncio.to_thread(worker.forgetting.forget_due)).keys == 1
            monkeypatch.setattr(
                postgres_scheduling_store, "keys_to_make", then_the_vault_looks_again
            )
            (again,) = await scheduling.schedule([ScheduleRequest(1, "ada", "key:k")])
            return first, again
        finally:
            await store.close()

    try:
        first, again = asyncio.run(schedule_forget_schedule())
        assert isinstance(first, Outcome) and isinstance(again, Outcome), again
        assert again.job.reference_id == "ada" and again.job.job_id != first.job.job_id
        auditor = build_services(settings)  # a process of its own: nothing in memory
        try:
            forgotten = auditor.log.job(first.job.job_id)
            assert forgotten is not None and forgotten.reference_id == "[forgotten]"
            with auditor.database.reader() as conn:
                generations = conn.execute(
                    text("SELECT generation FROM personal_data_keys WHERE subject = :s"),
                    {"s": auditor.log.subject_of(1, "ada")},
                ).scalars()
                assert sorted(generations) == [1]
        finally:
            auditor.close()
    finally:
        api.close()
        worker.close()
