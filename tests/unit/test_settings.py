"""Settings come from the environment, and a bad value is named, not ignored."""

from datetime import timedelta

import pytest

from infrastructure.database import parse_database_url
from infrastructure.settings import DEFAULT_DATABASE_URL, Settings, SettingsError


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.deletion_delay is None
    assert settings.lease == timedelta(seconds=60)
    assert settings.batch_size is None
    assert settings.config_path is None
    assert settings.embedded_worker is True


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "JOBTRAIL_DATABASE_URL": "postgresql://u@db/jobs",
            "JOBTRAIL_DELETION_DELAY": "0",
            "JOBTRAIL_READ_YOUR_WRITES_TIMEOUT": "3",
            "JOBTRAIL_PROJECTION_POLL_INTERVAL": "0.5",
            "JOBTRAIL_CONFIG": "/etc/jobtrail.toml",
            "JOBTRAIL_LEASE_SECONDS": "15",
            "JOBTRAIL_BATCH_SIZE": "250",
            "JOBTRAIL_WORKER_POLL_INTERVAL": "2",
            "JOBTRAIL_EMBEDDED_WORKER": "0",
        }
    )
    assert settings.database_url == "postgresql://u@db/jobs"
    assert settings.deletion_delay == timedelta(0)
    assert settings.read_your_writes_timeout == 3
    assert settings.projection_poll_interval == 0.5
    assert settings.config_path == "/etc/jobtrail.toml"
    assert settings.lease == timedelta(seconds=15)
    assert settings.batch_size == 250
    assert settings.worker_poll_interval == 2
    assert settings.embedded_worker is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JOBTRAIL_DELETION_DELAY", "soon"),
        ("JOBTRAIL_DELETION_DELAY", "-5"),
        ("JOBTRAIL_LEASE_SECONDS", "nan"),
        ("JOBTRAIL_LEASE_SECONDS", "0"),
        ("JOBTRAIL_POOL_SIZE", "0"),
        ("JOBTRAIL_POOL_SIZE", "²"),
        ("JOBTRAIL_POOL_MAX_OVERFLOW", "-1"),
        ("JOBTRAIL_LEASE_SECONDS", "inf"),
        ("JOBTRAIL_RECORD_INTERVAL", "nan"),
        ("JOBTRAIL_EMBEDDED_WORKER", "maybe"),
        ("JOBTRAIL_BATCH_SIZE", "0"),
        ("JOBTRAIL_BATCH_SIZE", "ten"),
        ("JOBTRAIL_READ_YOUR_WRITES_TIMEOUT", "x"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_a_sqlite_url_configures_both_stores_on_one_file() -> None:
    url = parse_database_url("sqlite:///data/jobtrail.db")
    assert url.backend == "sqlite"
    assert url.eventsourcing_env["SQLITE_DBNAME"] == "data/jobtrail.db"
    assert url.sqlalchemy_url == "sqlite+pysqlite:///data/jobtrail.db"


def test_a_postgresql_url_configures_both_stores_on_one_database() -> None:
    url = parse_database_url("postgresql://jt:secret@db.internal:6543/jobs?schema=tenant_a")
    assert url.backend == "postgresql"
    env = url.eventsourcing_env
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == (
        "db.internal",
        "6543",
        "jobs",
    )
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_SCHEMA"]) == (
        "jt",
        "secret",
        "tenant_a",
    )
    assert url.sqlalchemy_url.startswith("postgresql+psycopg://jt:secret@db.internal:6543/jobs")


@pytest.mark.parametrize(
    "raw",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "mysql://x/y",
        "not a url",
        "postgresql://h/db?schema=a;drop",
    ],
)
def test_an_unusable_database_url_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError):
        parse_database_url(raw)


def test_pools_too_small_to_prepare_the_database_are_refused() -> None:
    with pytest.raises(SettingsError, match="at least 2"):
        Settings.from_env({"JOBTRAIL_POOL_SIZE": "1", "JOBTRAIL_POOL_MAX_OVERFLOW": "0"})


def test_a_schema_must_be_lower_case() -> None:
    from infrastructure.database import parse_database_url

    with pytest.raises(SettingsError, match="lower-case"):
        parse_database_url("postgresql://u@h/db?schema=Upper")
