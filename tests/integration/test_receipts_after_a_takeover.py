"""A receipt after a takeover: a worker that froze past its lease, then woke to finish
its batch, must not count what the worker that took the job over deleted and counted.

SQL targets and session recordings lock their rows (a rescuer waits for them); an S3
target of a person's own objects and a ClickHouse table hold no lock: S3 answers
``Deleted`` for a key already gone, and ClickHouse's count is taken before its
mutation. What a batch reports after its lease ran out is kept apart, as unconfirmed:
the receipt is what was surely deleted, and at most the unconfirmed more."""

import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from sqlalchemy.exc import OperationalError

from application.certificates import statements
from application.commands import JobCommands
from application.leases import LONGEST_TICK
from application.outcome import Outcome
from application.runner import RunResult
from domain.job import job_aggregate_id
from infrastructure.clickhouse_targets import ClickHouseUserTarget
from infrastructure.openreplay_clickhouse import openreplay_clickhouse_targets
from infrastructure.s3_targets import S3Objects
from infrastructure.session_store import seed_sessions
from infrastructure.target_config import S3TargetConfig, TargetsConfig
from infrastructure.targets import UserObjectsTarget, build_targets, check_targets
from tests.openreplay_clickhouse import clickhouse_url, fresh_installation, load
from tests.runner_support import HeartbeatFrozenToo, RunnerKit, due
from tests.s3_server import fresh_bucket

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "exports"


@pytest.fixture
def s3(moto: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    return fresh_bucket(moto, BUCKET, monkeypatch)


def test_s3_objects_deleted_by_the_rescuer_are_not_counted_again_by_the_worker_that_lost_the_job(
    kit: RunnerKit, s3: Any, moto: str
) -> None:
    """A worker lists the person's 3 objects, then freezes (heartbeat too) before its
    DeleteObjects. Another takes the job over, deletes the 3 objects, records 3 and
    completes. The frozen worker thaws and sends its DeleteObjects for keys that are
    gone: S3 answers ``Deleted`` for each. 3 objects existed: the receipt says 3, and
    the 3 the lost worker reported after its lease are kept apart, unconfirmed."""
    for n in range(3):
        s3.put_object(Bucket=BUCKET, Key=f"1/carol/{n}.json", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="1/dave/0.json", Body=b"x")
    config = S3TargetConfig(
        name="exports", bucket=BUCKET, endpoint_url=moto, prefix="{projectId}/{userId}/"
    )
    job_id = kit.schedule("carol")
    lease = timedelta(seconds=30)
    thawed = threading.Event()

    class FreezesBeforeDeleting:
        """boto3's client, but the first DeleteObjects waits until the job is taken
        over and finished by another worker (a stalled process, a GC pause)."""

        def __init__(self, inner: Any) -> None:
            self._inner = inner
            self.frozen_once = False

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def delete_objects(self, **kwargs: Any) -> Any:
            if not self.frozen_once:
                self.frozen_once = True
                kit.clock.advance(lease * 2)
                rescuer_target = UserObjectsTarget(S3Objects(config))
                rescuer = kit.runner(
                    worker_id="worker:rescuer", lease=lease, targets=[rescuer_target]
                )
                time.sleep(LONGEST_TICK * 3)
                assert rescuer.run(due(kit, job_id)) is RunResult.COMPLETED
                thawed.set()
            return self._inner.delete_objects(**kwargs)

    frozen_target = UserObjectsTarget(
        S3Objects(
            config,
            client=cast("S3Client", FreezesBeforeDeleting(boto3.client("s3", endpoint_url=moto))),
        )
    )
    frozen = kit.runner(
        worker_id="worker:frozen",
        lease=lease,
        targets=[frozen_target],
        commands=HeartbeatFrozenToo(kit.services.log, kit.clock, thawed),
    )
    assert frozen.run(due(kit, job_id)) is RunResult.LOST

    left = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    assert [o["Key"] for o in left] == ["1/dave/0.json"]
    job = kit.services.log.job(job_id)
    assert job is not None
    # Three objects of carol's existed and went: the receipt says 3, and that the
    # worker that lost the job reported at most 3 more.
    assert job.deleted == {"exports": 3}
    assert job.unconfirmed == {"exports": 3}
    # A certificate states both, as the events say them.
    stated = statements(list(kit.services.log.events.get(job_aggregate_id(job_id))))
    assert stated["receipt"] == {"exports": 3}
    assert stated["receipt_unconfirmed"] == {"exports": 3}


def test_clickhouse_rows_the_rescuer_deleted_are_not_counted_again_by_the_worker_that_lost_it(
    kit: RunnerKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ClickHouse's count is taken before the ALTER … DELETE: a worker that counted her
    1 profile row, froze, and was taken over, runs its mutation (deleting nothing: the
    rescuer deleted and recorded the row) and reports its count all the same, after
    its lease: unconfirmed, not on the receipt."""

    ch = fresh_installation()
    load(ch)
    users = "product_analytics.users"
    config = TargetsConfig(
        5, [t for t in openreplay_clickhouse_targets(clickhouse_url()) if t.name == users]
    )
    [rescuers] = build_targets(config, kit.services.database)
    [frozen_target] = build_targets(config, kit.services.database)
    check_targets([rescuers, frozen_target])
    job_id = kit.schedule("alice", 1)
    lease = timedelta(seconds=30)
    thawed = threading.Event()

    assert isinstance(frozen_target, ClickHouseUserTarget)
    table = frozen_target._table
    real_client = table._client

    class FreezesBeforeMutating:
        frozen_once = False

        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def command(self, sql: str, **kwargs: Any) -> Any:
            if sql.startswith("ALTER TABLE") and not FreezesBeforeMutating.frozen_once:
                FreezesBeforeMutating.frozen_once = True
                kit.clock.advance(lease * 2)
                rescuer = kit.runner(worker_id="worker:rescuer", lease=lease, targets=[rescuers])
                time.sleep(LONGEST_TICK * 3)
                assert rescuer.run(due(kit, job_id)) is RunResult.COMPLETED
                thawed.set()
            return self._inner.command(sql, **kwargs)

    monkeypatch.setattr(table, "_client", lambda: FreezesBeforeMutating(real_client()))
    frozen = kit.runner(
        worker_id="worker:frozen",
        lease=lease,
        targets=[frozen_target],
        commands=HeartbeatFrozenToo(kit.services.log, kit.clock, thawed),
    )
    assert frozen.run(due(kit, job_id)) is RunResult.LOST

    left = ch.query(f"SELECT count() FROM {users} WHERE project_id = 1 AND `$user_id` = 'alice'")
    assert left.result_rows == [(0,)]
    job = kit.services.log.job(job_id)
    assert job is not None
    assert job.deleted == {users: 1}
    assert job.unconfirmed == {users: 1}


def test_a_record_that_committed_but_answered_with_an_error_is_not_counted_twice(
    kit: RunnerKit, caplog: pytest.LogCaptureFixture
) -> None:
    """The database commits a batch's record, then the connection drops before the
    answer reaches the worker. The job fails on that error, and its failure records
    what it had not recorded yet: the same batch must not be counted again."""
    seed_sessions(kit.services.database, 1, ["dora"], 4, kit.recordings)
    job_id = kit.schedule("dora")

    class CommitThenDrop(JobCommands):
        drops = 0

        def record_batch(
            self,
            job_id: int,
            actor: str,
            attempt: int,
            deleted: dict[str, int],
            lease_until: datetime,
            record: int | None = None,
        ) -> Outcome:
            recorded = super().record_batch(job_id, actor, attempt, deleted, lease_until, record)
            if not self.drops:
                self.drops += 1
                raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
            return recorded

    commands = CommitThenDrop(kit.services.log, kit.clock)

    kit.runner(batch_size=10, commands=commands).run(due(kit, job_id))

    job = kit.services.log.job(job_id)
    assert job is not None
    assert commands.drops == 1
    assert job.deleted == {"sessions": 4, "recordings": 4}
    assert "could not record" not in caplog.text  # sent again, and taken as recorded
