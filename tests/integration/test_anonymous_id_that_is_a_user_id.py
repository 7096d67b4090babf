"""The person's anonymous id is another user's id in the project (user ``bob7``;
alice's device says ``bob7``): a shared text or an untyped value that says ``bob7``
may mean bob, so a job for alice leaves it, and deletes alice's own."""

from pathlib import Path

from sqlalchemy import text

from api.composition import Services
from domain.lifecycle import JobStatus
from infrastructure.person_target_config import ScrubTargetConfig, ValuesTargetConfig
from infrastructure.target_config import SqlTargetConfig, TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.runner_support import runner_kit

SETUP = [
    "CREATE TABLE s (sid INTEGER PRIMARY KEY, project_id INTEGER, user_id TEXT, anon TEXT)",
    "CREATE TABLE v (value TEXT, project_id INTEGER)",
    "CREATE TABLE n (nid INTEGER PRIMARY KEY, project_id INTEGER, body TEXT)",
    "INSERT INTO s VALUES (1, 1, 'alice', 'bob7'), (2, 1, 'alice', 'tab-a'),"
    " (3, 1, 'bob7', 'dev-b'), (4, 2, 'bob7', 'dev-b')",
    "INSERT INTO v VALUES ('bob7', 1), ('alice', 1), ('tab-a', 1)",
    "INSERT INTO n VALUES (1, 1, 'rage clicks by bob7'), (2, 1, 'dead click on tab-a')",
]


def test_an_anonymous_id_that_is_another_users_id_is_not_scrubbed_nor_its_value_deleted(
    services: Services, tmp_path: Path
) -> None:
    with services.database.writer() as conn:
        for statement in SETUP:
            conn.execute(text(statement))
    config = TargetsConfig(
        batch_size=10,
        targets=[
            ValuesTargetConfig(name="v", table="v", identities_from="s"),
            ScrubTargetConfig(name="n", table="n", text_columns=["body"], identities_from="s"),
            SqlTargetConfig(name="s", table="s", id_column="sid", anonymous_id_column="anon"),
        ],
    )
    targets = build_targets(config, services.database)
    check_targets(targets)
    kit = runner_kit(services, tmp_path)
    job_id = kit.schedule("alice", project_id=1)
    kit.worker(kit.runner(batch_size=10, targets=[*targets])).run_due_jobs()

    assert job_now(services, 1, job_id).status == JobStatus.COMPLETED
    assert services.history.receipt(1, job_id) == {"v": 2, "n": 1, "s": 2}
    with services.database.reader() as conn:
        assert conn.execute(text("SELECT value FROM v")).scalars().all() == ["bob7"]
        assert sorted(tuple(row) for row in conn.execute(text("SELECT nid, body FROM n"))) == [
            (1, "rage clicks by bob7"),
            (2, "dead click on [forgotten]"),
        ]
