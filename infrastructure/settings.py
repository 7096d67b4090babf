"""Settings: one typed object, decoded from the ``JOBTRAIL_*`` environment at start.

Each field is one variable (its name upper-cased behind ``JOBTRAIL_``, or the name in
``_VARIABLES``); its default is written once, here. msgspec decodes and validates the
strings; a value jobtrail cannot use, or a ``JOBTRAIL_*`` variable it does not know
(a typo would otherwise be silently ignored), is a one-line ``SettingsError``.
"""

import math
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

import msgspec

from domain.deadline import ONE_MONTH, InvalidPeriod, Period, check_response_period, parse_period

DEFAULT_DATABASE_URL = "sqlite:///jobtrail.db"
PREFIX = "JOBTRAIL_"
_VARIABLES = {"config_path": "JOBTRAIL_CONFIG", "lease": "JOBTRAIL_LEASE_SECONDS"}
_DAY = 86_400.0

Seconds = Annotated[float, msgspec.Meta(ge=0)]
Positive = Annotated[int, msgspec.Meta(ge=1)]
Count = Annotated[int, msgspec.Meta(ge=0)]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["auto", "json", "plain"]


class SettingsError(ValueError):
    """An environment variable holds a value jobtrail cannot use."""


def variable(field: str) -> str:
    """The environment variable that sets a field of Settings."""
    return _VARIABLES.get(field, PREFIX + field.upper())


class Settings(msgspec.Struct, frozen=True, kw_only=True, rename=variable):
    database_url: Annotated[str, msgspec.Meta(min_length=1)] = DEFAULT_DATABASE_URL
    deletion_delay: timedelta | None = None
    """None ("midnight"): jobs start at the next UTC midnight, as in OpenReplay."""
    response_deadline: str = str(ONE_MONTH)
    """How long after its receipt a request must be answered (domain.deadline): one
    month, as GDPR Art. 12(3) says, or less; recorded on each job when it is requested."""
    read_your_writes_timeout: Seconds = 10.0
    projection_poll_interval: Seconds = 0.25
    config_path: str | None = None
    """A TOML file of deletion targets; None: the embedded defaults."""
    lease: timedelta = timedelta(seconds=60)
    batch_size: Positive | None = None
    """Overrides the config file's batch_size when set."""
    worker_poll_interval: Seconds = 1.0
    embedded_worker: bool = True
    record_interval: Seconds = 0.25
    """Seconds between a running job's BatchDeleted events (0: every batch)."""
    pool_size: Positive = 5
    """Connections each pool of a process keeps open (SQLAlchemy's and the event store's)."""
    pool_max_overflow: Count = 10
    """Connections each pool may open beyond pool_size under load, closed after."""
    forget_after: timedelta = timedelta(days=30)
    """How long a user's jobs stay terminal before the user's id is forgotten (the
    variable is in days)."""
    forget_interval: Seconds = 600.0
    """Seconds between a worker's rounds of forgetting."""
    signing_key_file: str | None = None
    """The Ed25519 private key that signs the log's checkpoints (`jobtrail audit keygen`
    writes one); none: no checkpoint is signed."""
    checkpoint_interval: Seconds = 3600.0
    """Seconds between a worker's checkpoints of a log that grew (and one after every
    completed job)."""
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "auto"
    """auto: plain lines on a terminal, JSON lines otherwise."""

    def __post_init__(self) -> None:
        # Raised here, a ValueError becomes msgspec's ValidationError naming the field.
        for name in _SECONDS:
            _finite(name, getattr(self, name))
        self.response_period  # noqa: B018 - refused at start, not at the first request
        if self.deletion_delay is not None and self.deletion_delay < timedelta(0):
            raise SettingsError(f"{variable('deletion_delay')} must not be negative.")
        if self.lease <= timedelta(0):
            raise SettingsError(f"{variable('lease')} must be more than 0 seconds.")
        if self.forget_after < timedelta(0):
            raise SettingsError(f"{variable('forget_after')} must be 0 days or more.")
        if self.pool_size + self.pool_max_overflow < 2:
            # A schema lock holds one connection while tables are made on another.
            raise SettingsError(
                "JOBTRAIL_POOL_SIZE + JOBTRAIL_POOL_MAX_OVERFLOW must be at least 2."
            )

    @property
    def response_period(self) -> Period:
        try:
            period = parse_period(self.response_deadline)
            check_response_period(period)
        except InvalidPeriod as error:
            raise SettingsError(
                f"{variable('response_deadline')} must be {error}, not {self.response_deadline!r}."
            ) from None
        return period

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        given = {
            name: value.strip()
            for name, value in env.items()
            if name.startswith(PREFIX) and value.strip()
        }
        unknown = sorted(set(given) - set(_KNOWN))
        if unknown:
            raise SettingsError(
                f"Unknown setting {unknown[0]} (a typo?): jobtrail reads "
                f"{', '.join(sorted(_KNOWN))}."
            )
        try:
            return msgspec.convert(
                {name: _spelled_for_decoding(name, value) for name, value in given.items()},
                cls,
                strict=False,
            )
        except msgspec.ValidationError as error:
            raise SettingsError(_one_line(error, given)) from None


def _finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise SettingsError(f"{variable(name)} must be a finite number of seconds.")


_SECONDS = [name for name, kind in Settings.__annotations__.items() if kind == Seconds]
_KNOWN = {variable(field) for field in Settings.__struct_fields__}
_FLAGS = {"1": "true", "true": "true", "yes": "true", "on": "true"} | {
    "0": "false",
    "false": "false",
    "no": "false",
    "off": "false",
}


def _spelled_for_decoding(name: str, value: str) -> Any:
    """The few variables whose spelling is friendlier than msgspec's."""
    if name == variable("deletion_delay") and value.lower() == "midnight":
        return None
    if name == variable("forget_after"):
        try:
            days = float(value)
        except ValueError:
            return value  # an ISO 8601 duration (P30D) decodes as such, or is refused
        return days * _DAY if math.isfinite(days) else value
    if name in (variable("log_level"), variable("log_format")):
        return value.upper() if name == variable("log_level") else value.lower()
    if name == variable("embedded_worker"):
        return _FLAGS.get(value.lower(), value)
    return value


_AT = re.compile(r"\s*- at `\$\.(\w+)`")
_FIELDS = {variable(field): field for field in Settings.__struct_fields__}
_EXPECTED: dict[object, str] = {
    Seconds: "a number of seconds, 0 or more",
    Positive: "a whole number, 1 or more",
    Positive | None: "a whole number, 1 or more",
    Count: "a whole number, 0 or more",
    bool: "1 or 0 (true/false, yes/no, on/off)",
    LogLevel: "DEBUG, INFO, WARNING, ERROR or CRITICAL",
    LogFormat: "auto, json or plain",
    timedelta: "a number of seconds",
    timedelta | None: "a number of seconds, or midnight",
}


def _one_line(error: msgspec.ValidationError, given: Mapping[str, str]) -> str:
    """What the variable should hold, led by the variable and the value it held."""
    message = str(error)
    where = _AT.search(message)
    if where is None:
        return _AT.sub("", message)  # raised by __post_init__, already one plain line
    name = where.group(1)
    field = _FIELDS[name]
    expected = "a number of days" if field == "forget_after" else None
    expected = expected or _EXPECTED.get(Settings.__annotations__[field], _AT.sub("", message))
    return f"{name} must be {expected}, not {given.get(name, '')!r}."
