"""OpenReplay's Enterprise edition logs each assist, call and remote control an
agent holds on a session in ``public.assist_events``: the session's id, kept as
text by its assist-stats service, with no foreign key onto the sessions (and so
out of reach of a walk of the catalog). A job for the person deletes her
sessions' rows there too, counted on the receipt, and nobody else's."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from api.composition import Services
from domain.lifecycle import JobStatus
from infrastructure.target_config import SqlTargetConfig, TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.integration.test_openreplay_session_tables import imported
from tests.openreplay_postgresql import (
    PERSON,
    SESSIONS,
    WEB,
    Installation,
    openreplay_postgresql,
    sessions_of,
)
from tests.runner_support import runner_kit

ASSIST_EVENTS = "public.assist_events"


@pytest.fixture
def installation() -> Iterator[Installation]:
    """The fixture's installation, with the Enterprise edition's assist log: an
    assist and a call on every session, by the session's id as text."""
    with openreplay_postgresql() as made:
        made.execute(
            "CREATE TABLE public.assist_events (event_id varchar NOT NULL PRIMARY KEY, "
            "project_id integer NOT NULL REFERENCES public.projects (project_id) "
            "ON DELETE CASCADE, session_id varchar NOT NULL, event_type varchar NOT NULL, "
            "timestamp bigint NOT NULL, duration integer, agent_id integer)"
        )
        made.execute(
            "INSERT INTO public.assist_events VALUES (:event, :project, :session, :kind, "
            "1700000000000, 30, 4)",
            [
                {
                    "event": f"{s.session_id}-{kind}",
                    "project": s.project_id,
                    "session": str(s.session_id),
                    "kind": kind,
                }
                for s in SESSIONS
                for kind in ("assist", "call")
            ],
        )
        yield made


def logged_sessions(installation: Installation) -> list[int]:
    engine = installation.engine()
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT session_id FROM public.assist_events"))
            return sorted(int(session) for (session,) in found)
    finally:
        engine.dispose()


def test_her_sessions_assist_events_are_deleted_though_no_foreign_key_names_them(
    services: Services, installation: Installation, tmp_path: Path
) -> None:
    config = imported(installation, tmp_path)
    sql_only = TargetsConfig(
        batch_size=5, targets=[t for t in config.targets if isinstance(t, SqlTargetConfig)]
    )
    targets = build_targets(sql_only, services.database)
    check_targets(targets)
    before = logged_sessions(installation)
    kit = runner_kit(services, tmp_path)

    job_id = kit.schedule(PERSON, WEB)
    kit.worker(kit.runner(batch_size=5, targets=targets)).run_due_jobs()

    assert job_now(kit.services, WEB, job_id).status == JobStatus.COMPLETED
    gone = sessions_of(WEB, PERSON)
    assert logged_sessions(installation) == [s for s in before if s not in gone]
    assert kit.services.history.receipt(WEB, job_id)[ASSIST_EVENTS] == 2 * len(gone)
