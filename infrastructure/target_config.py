"""The deletion targets' configuration: TOML named by ``JOBTRAIL_CONFIG``.

batch_size = 1000

[[targets]]
kind = "sql"
name = "sessions"
url = "postgresql://…"           # optional: the service's own database
table = "sessions"                # or "public.sessions"; or schema = "public"
user_id_column = "user_id"
project_id_column = "project_id"
id_column = "session_id"          # optional: the primary key

[[targets]]
kind = "s3"                       # AWS S3 or MinIO; credentials from the AWS chain
name = "mobs"
bucket = "mobs"
endpoint_url = "http://minio:9000"  # optional; region = "eu-west-1" optional
prefix = "{sessionId}/"           # ends with "/": session 12 never matches 120
keys = ["{sessionId}", "{sessionId}e"]  # optional: objects named exactly
sessions_from = "sessions"

[[targets]]
kind = "files"
name = "recordings"
directory = "/var/lib/recordings" # relative: to the configuration file's folder
pattern = "{projectId}/{sessionId}"
sessions_from = "sessions"        # needed when the pattern names {sessionId}
"""

from pathlib import Path
from typing import Annotated

import msgspec

from infrastructure.clickhouse_config import ClickHouseTargetConfig, clickhouse_problems
from infrastructure.key_patterns import (
    bucket_problem,
    directory_problem,
    names_problem,
    pattern_problem,
    placeholders,
)
from infrastructure.person_target_config import PersonTargetConfig, schema_and_table


class ConfigError(ValueError):
    """The deletion-target configuration cannot be used."""


class SqlTargetConfig(
    msgspec.Struct, tag="sql", tag_field="kind", forbid_unknown_fields=True, omit_defaults=True
):
    name: str
    table: str
    url: str | None = None
    user_id_column: str = "user_id"
    project_id_column: str = "project_id"
    id_column: str | None = None
    schema: str | None = None
    sessions_from: str | None = None
    """A child table: its rows whose ``session_column`` holds a ``parent_column`` of
    the rows this names (a sql target, or another child: a chain, in the same
    database) go with them, before them, whatever its foreign key's ON DELETE."""
    session_column: str | list[str] = "session_id"
    parent_column: str | list[str] | None = None
    """What ``session_column`` refers to in the parent (default: the parent's key);
    lists of the same length for a composite foreign key."""
    anonymous_id_column: str | None = None
    """Where a session row keeps the person's anonymous id (OpenReplay's
    ``user_anonymous_id``): the person's other identities, for value and scrub
    targets and for ``targets find``."""
    device_column: str | None = None
    """Where a session row keeps its device (OpenReplay's ``user_uuid``)."""
    follow_device: bool = False
    """Also delete the project's sessions with no user id recorded on a device of
    the person's sessions (needs ``device_column``)."""

    def __post_init__(self) -> None:
        if self.follow_device and (self.device_column is None or self.sessions_from):
            raise ValueError(
                f"Target {self.name}: follow_device goes with a device_column, on a "
                "target of sessions (not a child)."
            )

    def schema_and_table(self) -> tuple[str | None, str]:
        """``schema = "public"`` or a dotted ``table = "public.sessions"``."""
        return schema_and_table(self.schema, self.table)


class S3TargetConfig(
    msgspec.Struct, tag="s3", tag_field="kind", forbid_unknown_fields=True, omit_defaults=True
):
    name: str
    bucket: str
    prefix: str | None = None
    """Every object under it (it ends with ``/``)."""
    endpoint_url: str | None = None
    region: str | None = None
    sessions_from: str | None = None
    keys: list[str] = msgspec.field(default_factory=list)
    """Objects named exactly, beside or instead of the prefix: OpenReplay's older
    ``{sessionId}`` and ``{sessionId}e`` (never a prefix: 12 starts 120)."""

    def patterns(self) -> list[str]:
        return ([self.prefix] if self.prefix is not None else []) + self.keys


class FilesTargetConfig(
    msgspec.Struct, tag="files", tag_field="kind", forbid_unknown_fields=True, omit_defaults=True
):
    name: str
    directory: str
    pattern: str
    sessions_from: str | None = None

    def patterns(self) -> list[str]:
        return [self.pattern]


TargetConfig = (
    SqlTargetConfig
    | FilesTargetConfig
    | S3TargetConfig
    | PersonTargetConfig
    | ClickHouseTargetConfig
)


class TargetsConfig(msgspec.Struct, forbid_unknown_fields=True):
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1000
    targets: list[TargetConfig] = msgspec.field(default_factory=list)


DEFAULT_RECORDINGS = "recordings"
DEFAULT_CONFIG = TargetsConfig(
    targets=[
        SqlTargetConfig(name="sessions", table="sessions", id_column="session_id"),
        FilesTargetConfig(
            name="recordings",
            directory=DEFAULT_RECORDINGS,
            pattern="{projectId}/{sessionId}",
            sessions_from="sessions",
        ),
    ]
)


def load_config(path: str | None) -> TargetsConfig:
    """The targets of a TOML file, with relative directories resolved against the
    file's own folder (so a worker started anywhere finds the same files)."""
    if not path:
        return DEFAULT_CONFIG
    try:
        config = msgspec.toml.decode(Path(path).read_bytes(), type=TargetsConfig)
    except OSError as error:
        raise ConfigError(f"Cannot read JOBTRAIL_CONFIG {path}: {error}") from None
    except msgspec.ValidationError as error:
        raise ConfigError(f"JOBTRAIL_CONFIG {path}: {error}") from None
    except msgspec.DecodeError as error:
        raise ConfigError(f"JOBTRAIL_CONFIG {path} is not valid TOML: {error}") from None
    _check(config)
    resolved = resolve_directories(config, Path(path).resolve().parent)
    _check_directories(resolved)
    return resolved


def resolve_directories(config: TargetsConfig, base: Path) -> TargetsConfig:
    """The same targets with every files directory made absolute against ``base``."""
    targets: list[TargetConfig] = [
        msgspec.structs.replace(t, directory=str((base / t.directory).resolve()))
        if isinstance(t, FilesTargetConfig)
        else t
        for t in config.targets
    ]
    return msgspec.structs.replace(config, targets=targets)


def _check(config: TargetsConfig) -> None:
    if not config.targets:
        raise ConfigError("Name at least one deletion target: a job must delete something.")
    names = [target.name for target in config.targets]
    if len(set(names)) != len(names):
        raise ConfigError("Deletion target names must be unique.")
    for problem in clickhouse_problems(config.targets):
        raise ConfigError(problem)
    sql_names = {
        t.name for t in config.targets if isinstance(t, SqlTargetConfig) and not t.sessions_from
    }
    parents = {t.name: t for t in config.targets if isinstance(t, SqlTargetConfig)}
    for target in config.targets:
        if isinstance(target, SqlTargetConfig) and target.sessions_from is not None:
            _check_child(target, parents)
        if isinstance(target, PersonTargetConfig) and target.identities_from is not None:
            _check_identities_from(target, config.targets)
        if isinstance(target, SqlTargetConfig) and target.schema and "." in target.table:
            raise ConfigError(
                f"Target {target.name}: name the schema once (schema or a dotted table)."
            )
        if isinstance(target, S3TargetConfig) and not target.bucket:
            raise ConfigError(f"Target {target.name}: name the bucket.")
        if isinstance(target, FilesTargetConfig | S3TargetConfig):
            for pattern in target.patterns():
                _refuse(target, pattern_problem(pattern, target.sessions_from, sql_names))
        if isinstance(target, S3TargetConfig):
            _refuse(target, names_problem(target.prefix, target.keys))
        if isinstance(target, FilesTargetConfig | S3TargetConfig):
            _check_followed_names(target, parents)
    buckets: dict[tuple[str | None, str], list[S3TargetConfig]] = {}
    for target in config.targets:
        if isinstance(target, S3TargetConfig):
            buckets.setdefault((target.endpoint_url, target.bucket), []).append(target)
    for (_, bucket), sharing in buckets.items():
        named = [(t.name, t.prefix, t.keys) for t in sharing]
        if len(named) > 1 and (shared := bucket_problem(bucket, named)) is not None:
            raise ConfigError(shared)


def _check_directories(config: TargetsConfig) -> None:
    """Files targets whose directories are one, or one inside another (links
    resolved), are read through each other's patterns, as s3 targets sharing a
    bucket: a path one names for a person must not be someone else's in the other."""
    files = [t for t in config.targets if isinstance(t, FilesTargetConfig)]
    for outer in files:
        root = Path(outer.directory).resolve()
        inside = [
            (t, Path(t.directory).resolve().relative_to(root))
            for t in files
            if Path(t.directory).resolve().is_relative_to(root)
        ]
        named = [(t.name, _literal(below) + t.pattern) for t, below in inside]
        if len(named) > 1 and (shared := directory_problem(str(root), named)) is not None:
            raise ConfigError(shared)


def _literal(below: Path) -> str:
    """The folders between two directories, as the start of a pattern."""
    if below == Path("."):
        return ""
    return "/".join(below.parts).replace("{", "{{").replace("}", "}}") + "/"


def _refuse(target: "FilesTargetConfig | S3TargetConfig", problem: str | None) -> None:
    if problem is not None:
        raise ConfigError(f"Target {target.name}: {problem}")


def _check_followed_names(
    target: FilesTargetConfig | S3TargetConfig, parents: dict[str, SqlTargetConfig]
) -> None:
    """A session's files named by ``{userId}`` too are the person's own sessions'
    only: the anonymous sessions a ``follow_device`` target also takes carry no user
    id (or another's), so a recorder stored their files under a path jobtrail cannot
    know, which it would neither delete nor count."""
    sessions = parents.get(target.sessions_from or "")
    if sessions is None or not sessions.follow_device:
        return
    if isinstance(target, FilesTargetConfig):
        names = [("pattern", target.pattern)]
    else:
        names = [("prefix", target.prefix)] if target.prefix is not None else []
        names += [("key", key) for key in target.keys]
    for kind, pattern in names:
        if "userId" in placeholders(pattern):
            raise ConfigError(
                f"Targets {sessions.name} and {target.name}: {sessions.name} follows devices "
                f"(follow_device), and the {kind} {pattern!r} of {target.name} names {{userId}}: "
                "a device's anonymous sessions have no user id of the person's, so the "
                "path their files were stored under is unknown, and a job would leave "
                "them. Name a session's files by {sessionId} (and {projectId}) alone, or "
                "turn follow_device off."
            )


def _check_child(target: SqlTargetConfig, parents: dict[str, SqlTargetConfig]) -> None:
    """A child's chain of parents ends at a sql target of sessions, in one database."""
    seen = {target.name}
    parent = parents.get(target.sessions_from or "")
    while parent is not None and parent.name not in seen and parent.sessions_from is not None:
        seen.add(parent.name)
        parent = parents.get(parent.sessions_from)
    if parent is None or parent.name in seen:
        raise ConfigError(
            f"Target {target.name}: sessions_from must name another sql target (its parent "
            "table), and its parents' chain must end at one without sessions_from."
        )
    if any(parents[name].url != target.url for name in seen | {parent.name}):
        raise ConfigError(
            f"Target {target.name}: a child table must be in its parent's database "
            f"({target.sessions_from}): both go in one transaction."
        )
    mine, theirs = target.session_column, target.parent_column
    lists = isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs)
    if (isinstance(mine, list) or isinstance(theirs, list)) and not lists:
        raise ConfigError(
            f"Target {target.name}: a composite foreign key names lists of the same "
            "length in session_column and parent_column."
        )


def column_names(value: str | list[str]) -> list[str]:
    """A child's session_column or parent_column as a list (one, or a composite key's)."""
    return [value] if isinstance(value, str) else list(value)


def _check_identities_from(target: PersonTargetConfig, targets: list[TargetConfig]) -> None:
    """The sessions that name the person's anonymous ids are read before they go."""
    names = [t.name for t in targets]
    sessions = next((t for t in targets if t.name == target.identities_from), None)
    if (
        not isinstance(sessions, SqlTargetConfig)
        or sessions.sessions_from is not None
        or sessions.anonymous_id_column is None
    ):
        raise ConfigError(
            f"Target {target.name}: identities_from must name a sql target of sessions "
            "with an anonymous_id_column."
        )
    if names.index(sessions.name) < names.index(target.name):
        raise ConfigError(
            f"Target {target.name}: it must come before {sessions.name}, whose rows name "
            "the person's anonymous ids."
        )
