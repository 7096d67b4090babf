"""jobtrail's event recorders keep eventsourcing's contract: the library's own test
cases for application recorders, and for notification ids that never interleave,
run on each (ADR 29). On PostgreSQL the recorder appends through ``jobtrail_append``,
the statement scheduling's batches use: the same test cases hold that statement to
the library's guarantees. Each test starts on a database of its own."""

import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
)

from api.composition import Services, build_services
from infrastructure.chain import verify_chain
from infrastructure.settings import Settings
from tests.conftest import postgres_admin_url, require_postgres


class _OnItsOwnDatabase:
    backend = "sqlite"
    services: Services

    def setUp(self) -> None:
        if self.backend == "postgresql":
            require_postgres()
            self.schema = f"test_{uuid.uuid4().hex[:12]}"
            url = f"{postgres_admin_url()}?schema={self.schema}"
        else:
            self.folder = tempfile.TemporaryDirectory()
            url = f"sqlite:///{Path(self.folder.name) / 'jobtrail.db'}"
        self.services = build_services(Settings(database_url=url))
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        super().tearDown()  # type: ignore[misc]
        # Whatever the library's cases wrote, the chain links it all.
        assert verify_chain(self.services.log, self.services.database).intact
        self.services.close()
        if self.backend == "postgresql":
            with psycopg.connect(postgres_admin_url(), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        else:
            self.folder.cleanup()

    def create_recorder(self) -> Any:
        recorder: ApplicationRecorder = self.services.log.recorder
        return recorder


class TestSQLiteRecorder(_OnItsOwnDatabase, ApplicationRecorderTestCase[Any]):
    backend = "sqlite"


class TestPostgresRecorder(_OnItsOwnDatabase, ApplicationRecorderTestCase[Any]):
    backend = "postgresql"


class TestSQLiteIdsNeverInterleave(_OnItsOwnDatabase, NonInterleavingNotificationIDsBaseCase):
    backend = "sqlite"


class TestPostgresIdsNeverInterleave(_OnItsOwnDatabase, NonInterleavingNotificationIDsBaseCase):
    backend = "postgresql"
