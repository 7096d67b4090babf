"""Settings come from the environment, and a bad value is named, not ignored."""

from datetime import timedelta
from pathlib import Path

import pytest

from infrastructure.database import parse_database_url
from infrastructure.settings import DEFAULT_DATABASE_URL, Settings, SettingsError, variable


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
            "JOBTRAIL_RECORD_INTERVAL": "0",
            "JOBTRAIL_POOL_SIZE": "2",
            "JOBTRAIL_POOL_MAX_OVERFLOW": "0",
            "JOBTRAIL_FORGET_AFTER": "0.5",
            "JOBTRAIL_FORGET_INTERVAL": "60",
            "JOBTRAIL_LOG_LEVEL": "debug",
            "JOBTRAIL_LOG_FORMAT": "JSON",
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
    assert settings.record_interval == 0
    assert (settings.pool_size, settings.pool_max_overflow) == (2, 0)
    assert settings.forget_after == timedelta(hours=12)
    assert settings.forget_interval == 60
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")


def test_every_setting_has_one_variable_and_every_variable_is_documented() -> None:
    reference = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    variables = [variable(field) for field in Settings.__struct_fields__]
    assert len(set(variables)) == len(variables)
    assert [name for name in variables if f"`{name}`" not in reference] == []


def test_an_unknown_jobtrail_variable_is_refused_as_a_likely_typo() -> None:
    with pytest.raises(SettingsError, match=r"Unknown setting JOBTRAIL_LEASE .*LEASE_SECONDS"):
        Settings.from_env({"JOBTRAIL_LEASE": "30", "HOME": "/root"})


def test_an_empty_variable_means_its_default() -> None:
    assert Settings.from_env({"JOBTRAIL_LEASE_SECONDS": " ", "JOBTRAIL_LOG_LEVEL": ""}) == (
        Settings()
    )


def test_a_flag_reads_as_an_operator_writes_it() -> None:
    for written, meant in [("yes", True), ("On", True), ("no", False), ("OFF", False)]:
        assert Settings.from_env({"JOBTRAIL_EMBEDDED_WORKER": written}).embedded_worker is meant


def test_midnight_and_an_iso_duration_are_understood() -> None:
    assert Settings.from_env({"JOBTRAIL_DELETION_DELAY": "midnight"}).deletion_delay is None
    assert Settings.from_env({"JOBTRAIL_FORGET_AFTER": "P2D"}).forget_after == timedelta(days=2)


def test_a_refusal_is_one_line_saying_what_the_variable_must_hold() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"JOBTRAIL_POOL_SIZE": "two"})
    assert str(refused.value) == "JOBTRAIL_POOL_SIZE must be a whole number, 1 or more, not 'two'."


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
        ("JOBTRAIL_WORKER_POLL_INTERVAL", "-1"),
        ("JOBTRAIL_PROJECTION_POLL_INTERVAL", "inf"),
        ("JOBTRAIL_FORGET_AFTER", "-1"),
        ("JOBTRAIL_FORGET_AFTER", "a month"),
        ("JOBTRAIL_FORGET_INTERVAL", "nan"),
        ("JOBTRAIL_LOG_LEVEL", "loud"),
        ("JOBTRAIL_LOG_FORMAT", "xml"),
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
