"""Settings, read once from the environment by the composition root."""

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

DEFAULT_DATABASE_URL = "sqlite:///jobtrail.db"


class SettingsError(ValueError):
    """An environment variable holds a value jobtrail cannot use."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    deletion_delay: timedelta | None = None
    """None: jobs start at the next UTC midnight, as in OpenReplay."""
    read_your_writes_timeout: float = 10.0
    projection_poll_interval: float = 0.25
    config_path: str | None = None
    """A TOML file of deletion targets; None: the embedded defaults."""
    lease: timedelta = timedelta(seconds=60)
    batch_size: int | None = None
    """Overrides the config file's batch_size when set."""
    worker_poll_interval: float = 1.0
    embedded_worker: bool = True
    record_interval: float = 0.25
    """Seconds between a running job's BatchDeleted events (0: every batch)."""
    pool_size: int = 5
    """Connections each pool of a process keeps open (SQLAlchemy's and the event store's)."""
    pool_max_overflow: int = 10
    """Connections each pool may open beyond pool_size under load, closed after."""
    forget_after: timedelta = timedelta(days=30)
    """How long a user's jobs stay terminal before the user's id is forgotten."""
    forget_interval: float = 600.0
    """Seconds between a worker's rounds of forgetting."""

    def __post_init__(self) -> None:
        if self.pool_size + self.pool_max_overflow < 2:
            # A schema lock holds one connection while tables are made on another.
            raise SettingsError(
                "JOBTRAIL_POOL_SIZE + JOBTRAIL_POOL_MAX_OVERFLOW must be at least 2."
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("JOBTRAIL_DATABASE_URL") or DEFAULT_DATABASE_URL,
            deletion_delay=_delay(env.get("JOBTRAIL_DELETION_DELAY", "")),
            read_your_writes_timeout=_seconds(
                "JOBTRAIL_READ_YOUR_WRITES_TIMEOUT",
                env.get("JOBTRAIL_READ_YOUR_WRITES_TIMEOUT"),
                10.0,
            ),
            projection_poll_interval=_seconds(
                "JOBTRAIL_PROJECTION_POLL_INTERVAL",
                env.get("JOBTRAIL_PROJECTION_POLL_INTERVAL"),
                0.25,
            ),
            config_path=env.get("JOBTRAIL_CONFIG") or None,
            lease=timedelta(seconds=_lease_seconds(env.get("JOBTRAIL_LEASE_SECONDS"))),
            batch_size=_positive_int("JOBTRAIL_BATCH_SIZE", env.get("JOBTRAIL_BATCH_SIZE")),
            worker_poll_interval=_seconds(
                "JOBTRAIL_WORKER_POLL_INTERVAL", env.get("JOBTRAIL_WORKER_POLL_INTERVAL"), 1.0
            ),
            embedded_worker=_flag("JOBTRAIL_EMBEDDED_WORKER", env.get("JOBTRAIL_EMBEDDED_WORKER")),
            record_interval=_seconds(
                "JOBTRAIL_RECORD_INTERVAL", env.get("JOBTRAIL_RECORD_INTERVAL"), 0.25
            ),
            pool_size=_positive_int("JOBTRAIL_POOL_SIZE", env.get("JOBTRAIL_POOL_SIZE")) or 5,
            pool_max_overflow=_count(
                "JOBTRAIL_POOL_MAX_OVERFLOW", env.get("JOBTRAIL_POOL_MAX_OVERFLOW"), 10
            ),
            forget_after=_days("JOBTRAIL_FORGET_AFTER", env.get("JOBTRAIL_FORGET_AFTER"), 30.0),
            forget_interval=_seconds(
                "JOBTRAIL_FORGET_INTERVAL", env.get("JOBTRAIL_FORGET_INTERVAL"), 600.0
            ),
        )


def _delay(raw: str) -> timedelta | None:
    raw = raw.strip().lower()
    if raw in ("", "midnight"):
        return None
    return timedelta(seconds=_seconds("JOBTRAIL_DELETION_DELAY", raw, 0.0))


def _seconds(name: str, raw: str | None, default: float) -> float:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, not {raw!r}.") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name} must be a finite number of seconds, not {raw!r}.")
    if value < 0:
        raise SettingsError(f"{name} must not be negative.")
    return value


def _days(name: str, raw: str | None, default: float) -> timedelta:
    if raw is None or raw.strip() == "":
        return timedelta(days=default)
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of days, not {raw!r}.") from None
    if not math.isfinite(value) or value < 0:
        raise SettingsError(f"{name} must be a finite number of days, 0 or more, not {raw!r}.")
    return timedelta(days=value)


def _lease_seconds(raw: str | None) -> float:
    seconds = _seconds("JOBTRAIL_LEASE_SECONDS", raw, 60.0)
    if seconds <= 0:
        raise SettingsError("JOBTRAIL_LEASE_SECONDS must be more than 0.")
    return seconds


def _flag(name: str, raw: str | None) -> bool:
    value = (raw or "1").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 1 or 0 (true/false, yes/no, on/off), not {raw!r}.")


def _count(name: str, raw: str | None, default: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    if not raw.strip().isascii() or not raw.strip().isdigit():
        raise SettingsError(f"{name} must be a whole number (0 or more), not {raw!r}.")
    return int(raw)


def _positive_int(name: str, raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    if not raw.strip().isascii() or not raw.strip().isdigit() or int(raw) < 1:
        raise SettingsError(f"{name} must be a positive integer, not {raw!r}.")
    return int(raw)
