"""The whole person, end to end (issue 24, "How it must be proven"): an OpenReplay-
shaped installation in PostgreSQL, ClickHouse (the real engine, in process) and a
bucket that keeps versions (moto's server); `jobtrail openreplay import` writes
the targets; a job deletes alice in one project through the real runner, with
jobtrail's own store on both backends (and, with follow_device turned on, the
anonymous sessions recorded on her own devices, everywhere). Then the receipt
counts exactly what was hers, table by table and version by version;
`jobtrail targets find` finds nothing of her; and everything else, down to the
other project's alice, is as it was."""

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner, Result

from api.cli import main
from api.composition import Services
from api.wording import counted
from domain.lifecycle import JobStatus
from domain.request import FORGOTTEN
from infrastructure.openreplay_targets import targets_toml
from infrastructure.target_config import load_config
from infrastructure.targets import service_targets
from tests.conftest import job_now
from tests.openreplay_clickhouse import clickhouse_url
from tests.openreplay_installation import (
    BUCKET,
    HER_SESSIONS,
    WholeInstallation,
    after_the_job,
    recording_keys,
    whole_installation,
)
from tests.openreplay_postgresql import MOBILE, PERSON, PROJECT_KEYS, WEB, sessions_of
from tests.openreplay_shared_rows import scrubbed
from tests.runner_support import runner_kit
from tests.s3_server import CREDENTIALS


@pytest.fixture
def installation(moto: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[WholeInstallation]:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    urllib.request.urlopen(urllib.request.Request(f"{moto}/moto-api/reset", method="POST"))
    with whole_installation(moto) as made:
        yield made


def jobtrail(arguments: list[str], database_url: str, config: Path | None = None) -> Result:
    """A command, in this process (chdb's engine folder is this process's)."""
    env = {"JOBTRAIL_DATABASE_URL": database_url}
    if config is not None:
        env["JOBTRAIL_CONFIG"] = str(config)
    return CliRunner().invoke(main, arguments, env=env, catch_exceptions=False)


def imported(installation: WholeInstallation, moto: str, database_url: str, config: Path) -> None:
    """`jobtrail openreplay import`, as an operator runs it, writing ``config``."""
    done = jobtrail(
        [
            *("openreplay", "import", "--from", installation.postgresql.url),
            *("--clickhouse", clickhouse_url(), "--s3-endpoint", moto, "--s3-bucket", BUCKET),
            *("--config-out", str(config)),
        ],
        database_url,
    )
    assert done.exit_code == 0, done.output


def following_devices(config: Path) -> None:
    """What an operator does to follow devices: follow_device = true on each target
    of sessions that names their device column."""
    loaded = load_config(str(config))
    followed = [
        msgspec.structs.replace(t, follow_device=True) if getattr(t, "device_column", None) else t
        for t in loaded.targets
    ]
    config.write_text(targets_toml(msgspec.structs.replace(loaded, targets=followed)))


@pytest.mark.parametrize("follow_device", [False, True])
def test_a_job_deletes_the_whole_person_and_not_a_byte_of_anyone_elses(
    services: Services,
    database_url: str,
    installation: WholeInstallation,
    moto: str,
    tmp_path: Path,
    follow_device: bool,
) -> None:
    config = tmp_path / "jobtrail-openreplay.toml"
    imported(installation, moto, database_url, config)
    if follow_device:
        following_devices(config)
    before = installation.snapshot()
    hers = installation.hers(before, follow_device)
    find = ["targets", "find", PERSON, "--project", PROJECT_KEYS[WEB]]
    first = jobtrail(find, database_url, config)
    assert first.exit_code == 1, first.output  # she is everywhere, each place covered
    patterns = "{sessionId}/, {sessionId}, {sessionId}e"
    assert f"s3://{BUCKET}  {patterns}  {len(hers.versions)} objects" in first.output
    assert "not covered" not in first.output
    for table in ("public.autocomplete", "public.errors", "experimental.events"):
        assert f"target  {table}  {counted(hers.counts()[table], 'row')}  covered" in first.output
    checked = service_targets(str(config), services.database)
    kit = runner_kit(services, tmp_path)

    job_id = kit.schedule(PERSON, WEB)
    kit.worker(kit.runner(batch_size=checked.batch_size, targets=checked.targets)).run_due_jobs()

    assert job_now(kit.services, WEB, job_id).status == JobStatus.COMPLETED
    after, expected = installation.snapshot(), after_the_job(before, hers)
    assert after.postgresql == expected.postgresql
    assert after.versions == expected.versions
    found = jobtrail(find, database_url, config)
    assert found.exit_code == 0, found.output
    assert f"Nothing of this user left in project {PROJECT_KEYS[WEB]}." in found.output
    receipt = kit.services.history.receipt(WEB, job_id)
    assert receipt == {name: count for name, count in hers.counts().items() if count}
    assert set(receipt) == {t.name for t in load_config(str(config)).targets}  # each had hers
    assert after.clickhouse == expected.clickhouse
    # In so many words: the rows she shared are there, the marker in her place; the
    # other project's alice is whole; her recordings' every version is gone.
    marked = {table: rows for table, rows in scrubbed().items() if rows}
    assert set(marked) == {"public.errors", "public.issues", "public.saved_searches"}
    assert all(rows <= after.postgresql[table] for table, rows in marked.items())
    assert all(FORGOTTEN in repr(row) for rows in marked.values() for row in rows)
    elsewhere = sessions_of(MOBILE, PERSON)
    assert {row[0] for row in after.postgresql["public.sessions"]} >= elsewhere
    assert {v[0] for v in after.versions} >= {k for s in elsewhere for k in recording_keys(s)}
    assert not {v[0] for v in after.versions} & set(recording_keys(HER_SESSIONS[0]))
