"""A table that refers to a table of two keys (a link from a session to a session)
has rows of the person's wherever the person's sessions reach that table: through
either key. Configured under one key only, the rows reached through the other are
left out: their link's DELETE then fails on them, or (ON DELETE CASCADE) takes them
uncounted. `targets check` refuses such a configuration, naming the table and the
key it is not reached through, and `openreplay import` configures the table under
every key.

The installation is on the backend of jobtrail's own database, which runs on both;
the import reads OpenReplay's PostgreSQL.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from msgspec.structs import replace
from sqlalchemy import text

from api.composition import Services
from domain.lifecycle import JobStatus
from infrastructure.openreplay_source import SqlOpenReplaySource
from infrastructure.openreplay_targets import openreplay_targets, targets_toml
from infrastructure.target_config import ConfigError, SqlTargetConfig, TargetsConfig, load_config
from infrastructure.targets import CheckedTarget, build_targets, check_targets
from tests.conftest import job_now
from tests.openreplay_postgresql import PERSON, WEB, openreplay_postgresql, sessions_of
from tests.openreplay_postgresql import Installation as OpenReplay
from tests.runner_support import RunnerKit, runner_kit
from tests.sql_installation import Installation, installed

ALICE, BOB = "alice", "bob"

SCHEMA = [
    "CREATE TABLE sessions (session_id BIGINT PRIMARY KEY, project_id INTEGER NOT NULL, "
    "user_id TEXT)",
    # A link belongs to a session (none, once that is gone), and may point at another.
    "CREATE TABLE session_links (link_id INTEGER PRIMARY KEY, "
    "session_id BIGINT NULL REFERENCES sessions (session_id) ON DELETE SET NULL, "
    "linked_session_id BIGINT NULL REFERENCES sessions (session_id) ON DELETE SET NULL)",
    "CREATE TABLE reactions (reaction_id INTEGER PRIMARY KEY, "
    "link_id INTEGER NOT NULL REFERENCES session_links (link_id) ON DELETE CASCADE)",
]
SESSIONS = {1: ALICE, 2: BOB}
LINKS = [
    # (link, its session, the session it points at)
    (1, 1, None),  # alice's
    (2, None, 1),  # of no session any more, pointing at alice's: found by its second key
    (3, 2, None),  # bob's
]
REACTIONS = [(n, n) for n, *_ in LINKS]  # (reaction, its link): one to each link
EVERY_ROW = {
    "links": "SELECT link_id, session_id, linked_session_id FROM session_links",
    "reactions": "SELECT reaction_id, link_id FROM reactions",
}
ONE_KEY = [
    SqlTargetConfig(name="sessions", table="sessions", id_column="session_id"),
    SqlTargetConfig(name="links", table="session_links", sessions_from="sessions"),
    SqlTargetConfig(
        name="links to sessions",
        table="session_links",
        sessions_from="sessions",
        session_column="linked_session_id",
    ),
    SqlTargetConfig(
        name="reactions", table="reactions", sessions_from="links", session_column="link_id"
    ),
]
EVERY_KEY = [
    *ONE_KEY,
    SqlTargetConfig(
        name="reactions to linked sessions",
        table="reactions",
        sessions_from="links to sessions",
        session_column="link_id",
    ),
]


@pytest.fixture
def installation(services: Services, tmp_path: Path) -> Iterator[Installation]:
    with installed(services.database.backend, tmp_path) as made:
        for ddl in SCHEMA:
            made.execute(ddl)
        made.execute(
            "INSERT INTO sessions VALUES (:s, 1, :u)",
            [{"s": s, "u": u} for s, u in SESSIONS.items()],
        )
        made.execute(
            "INSERT INTO session_links VALUES (:l, :s, :o)",
            [{"l": link, "s": s, "o": other} for link, s, other in LINKS],
        )
        made.execute(
            "INSERT INTO reactions VALUES (:r, :l)", [{"r": r, "l": link} for r, link in REACTIONS]
        )
        yield made


def checked(
    kit: RunnerKit, installation: Installation, targets: list[SqlTargetConfig]
) -> list[CheckedTarget]:
    config = TargetsConfig(targets=[replace(target, url=installation.url) for target in targets])
    built = build_targets(config, kit.services.database)
    check_targets(built)
    return built


def test_targets_check_refuses_a_table_configured_under_only_one_key_of_a_two_key_table(
    kit: RunnerKit, installation: Installation
) -> None:
    with pytest.raises(ConfigError) as refused:
        checked(kit, installation, ONE_KEY)

    message = str(refused.value)
    assert "\n" not in message
    # The table, the key it is not reached through, and the TOML that covers it.
    assert "table main.reactions" in message or "table public.reactions" in message
    assert "reached through links to sessions (session_links.linked_session_id)" in message
    assert 'sessions_from = "links to sessions"' in message
    assert "its rows would go uncounted" in message


def test_configured_under_every_key_her_link_found_by_its_second_key_goes_with_its_reaction(
    kit: RunnerKit, installation: Installation
) -> None:
    targets = checked(kit, installation, EVERY_KEY)
    job_id = kit.schedule(ALICE, 1)

    kit.worker(kit.runner(batch_size=10, targets=targets)).run_due_jobs()

    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    assert installation.rows(EVERY_ROW) == {"links": {(3, 2, None)}, "reactions": {(3, 3)}}
    receipt = kit.services.history.receipt(1, job_id)
    assert {name: n for name, n in receipt.items() if n} == {
        "sessions": 1,
        "links": 1,
        "links to sessions": 1,
        "reactions": 1,
        "reactions to linked sessions": 1,
    }


@pytest.fixture
def openreplay() -> Iterator[OpenReplay]:
    """OpenReplay's PostgreSQL, with a table of two keys to the sessions that a table
    of reactions refers to (an installation's own, or a later version's)."""
    with openreplay_postgresql() as made:
        made.execute(
            "CREATE TABLE public.session_links (link_id integer PRIMARY KEY, "
            "session_id bigint NULL REFERENCES public.sessions ON DELETE SET NULL, "
            "linked_session_id bigint NULL REFERENCES public.sessions ON DELETE SET NULL)"
        )
        made.execute(
            "CREATE TABLE public.link_reactions (reaction_id integer PRIMARY KEY, "
            "link_id integer NOT NULL REFERENCES public.session_links ON DELETE CASCADE)"
        )
        hers = min(sessions_of(WEB, PERSON))
        made.execute(
            "INSERT INTO public.session_links VALUES (1, :hers, NULL), (2, NULL, :hers)",
            [{"hers": hers}],
        )
        made.execute("INSERT INTO public.link_reactions VALUES (1, 1), (2, 2)")
        yield made


def imported(installation: OpenReplay, folder: Path) -> list[SqlTargetConfig]:
    """The targets file the import writes (its SQL targets), read back."""
    source = SqlOpenReplaySource(installation.url)
    try:
        tables = source.session_tables()
    finally:
        source.close()
    config = openreplay_targets(installation.url, "mobs", None, None, session_tables=tables)
    written = folder / "openreplay.toml"
    written.write_text(targets_toml(config))
    return [t for t in load_config(str(written)).targets if isinstance(t, SqlTargetConfig)]


def test_the_import_configures_a_table_under_each_key_and_its_job_counts_every_row_it_takes(
    services: Services, openreplay: OpenReplay, tmp_path: Path
) -> None:
    written = imported(openreplay, tmp_path)
    targets = build_targets(TargetsConfig(batch_size=5, targets=[*written]), services.database)
    check_targets(targets)
    kit = runner_kit(services, tmp_path)

    job_id = kit.schedule(PERSON, WEB)
    kit.worker(kit.runner(batch_size=5, targets=targets)).run_due_jobs()

    assert job_now(kit.services, WEB, job_id).status == JobStatus.COMPLETED
    receipt = kit.services.history.receipt(WEB, job_id)
    reactions = {name: n for name, n in receipt.items() if name.startswith("public.link_reac")}
    assert sum(reactions.values()) == 2  # both went, each counted
    engine = openreplay.engine()
    try:
        with engine.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM public.link_reactions")).scalar_one()
    finally:
        engine.dispose()
    assert left == 0
    links = {t.name for t in written if t.table == "public.session_links"}
    assert len(links) == 2  # a target for each key
    assert {t.sessions_from for t in written if t.table == "public.link_reactions"} == links
