"""Deletion targets from TOML: SQL tables anywhere, files by user or by session."""

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from infrastructure.database import Database, parse_database_url
from infrastructure.key_patterns import path_segment
from infrastructure.target_config import (
    DEFAULT_CONFIG,
    ConfigError,
    FilesTargetConfig,
    SqlTargetConfig,
    TargetsConfig,
    load_config,
)
from infrastructure.targets import build_targets


def write(tmp_path: Path, toml: str) -> str:
    path = tmp_path / "jobtrail.toml"
    path.write_text(toml)
    return str(path)


def test_without_a_config_the_embedded_defaults_are_used() -> None:
    assert load_config(None) is DEFAULT_CONFIG
    assert [t.name for t in DEFAULT_CONFIG.targets] == ["sessions", "recordings"]


def test_a_config_file_names_sql_and_files_targets(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
batch_size = 250

[[targets]]
kind = "sql"
name = "events"
url = "sqlite:///other.db"
table = "events"
user_id_column = "uid"
project_id_column = "pid"
id_column = "event_id"

[[targets]]
kind = "files"
name = "exports"
directory = "/srv/exports"
pattern = "{projectId}/{userId}"
""",
        )
    )
    assert config.batch_size == 250
    sql, files = config.targets
    assert isinstance(sql, SqlTargetConfig) and sql.user_id_column == "uid"
    assert isinstance(files, FilesTargetConfig) and files.sessions_from is None


@pytest.mark.parametrize(
    ("toml", "complaint"),
    [
        ('[[targets]]\nkind = "ftp"\nname = "x"\n', "kind"),
        ('[[targets]]\nkind = "s3"\nname = "x"\nprefix = "{userId}/"\n', "bucket"),
        ('[[targets]]\nkind = "sql"\nname = "x"\ntable = "t"\ncolour = "red"\n', "colour"),
        (
            '[[targets]]\nkind = "files"\nname = "f"\ndirectory = "d"\npattern = "{email}"\n',
            "email",
        ),
        (
            '[[targets]]\nkind = "files"\nname = "f"\ndirectory = "d"\npattern = "{sessionId}"\n',
            "sessions_from",
        ),
        (
            '[[targets]]\nkind = "files"\nname = "f"\ndirectory = "d"\npattern = "{projectId}"\n',
            "userId",
        ),
        ("batch_size = 0\n", "batch_size"),
        ("this is not toml", "TOML"),
        ("batch_size = 10\n", "at least one"),
        (
            '[[targets]]\nkind = "files"\nname = "f"\ndirectory = "d"\npattern = "{userId}"\n',
            "projectId",
        ),
        (
            '[[targets]]\nkind = "sql"\nname = "sessions"\ntable = "t"\n'
            '[[targets]]\nkind = "files"\nname = "f"\ndirectory = "d"\n'
            'pattern = "{sessionId}"\nsessions_from = "sesions"\n',
            "sessions_from",
        ),
        (
            '[[targets]]\nkind = "sql"\nname = "sessions"\ntable = "t"\n'
            '[[targets]]\nkind = "files"\nname = "f"\ndirectory = "d"\n'
            'pattern = "{projectId}/{userId}"\nsessions_from = "sessions"\n',
            "sessions_from",
        ),
    ],
    ids=lambda value: value[:40] if isinstance(value, str) else value,
)
def test_a_bad_config_is_refused_with_a_reason(tmp_path: Path, toml: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        load_config(write(tmp_path, toml))


def test_a_missing_config_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read"):
        load_config(str(tmp_path / "absent.toml"))


@pytest.mark.parametrize(
    ("value", "segment"),
    [
        ("../x", "..%2Fx"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("*", "%2A"),
        ("a b", "a%20b"),
        ("alice@example.com", "alice@example.com"),
    ],
)
def test_placeholder_values_become_one_literal_path_segment(value: str, segment: str) -> None:
    assert path_segment(value) == segment


def test_a_sql_target_in_another_database_deletes_only_the_users_rows(tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'analytics.db'}"
    engine = create_engine(parse_database_url(other).sqlalchemy_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE events (event_id INTEGER PRIMARY KEY, uid TEXT, pid INT)"))
        for _ in range(7):
            conn.execute(
                text("INSERT INTO events (uid, pid) VALUES ('u1', 1), ('u2', 1), ('u1', 2)")
            )
    config = TargetsConfig(
        targets=[
            SqlTargetConfig(
                name="events",
                url=other,
                table="events",
                user_id_column="uid",
                project_id_column="pid",
            )
        ]
    )
    service = Database(parse_database_url(f"sqlite:///{tmp_path / 'svc.db'}"))
    [target] = build_targets(config, service)
    counts = [target.delete_batch(1, "u1", 3)["events"] for _ in range(4)]
    assert counts == [3, 3, 1, 0]
    with engine.connect() as conn:
        left = conn.execute(
            text("SELECT uid, pid, count(*) FROM events GROUP BY 1, 2 ORDER BY 1, 2")
        ).all()
    assert [tuple(row) for row in left] == [("u1", 2, 7), ("u2", 1, 7)]


def test_a_user_folder_is_emptied_in_batches_and_nothing_outside_it_is_touched(
    tmp_path: Path,
) -> None:
    root = tmp_path / "exports"
    config = TargetsConfig(
        targets=[
            FilesTargetConfig(name="exports", directory=str(root), pattern="{projectId}/{userId}")
        ]
    )
    service = Database(parse_database_url(f"sqlite:///{tmp_path / 'svc.db'}"))
    [target] = build_targets(config, service)
    users = ["../x", "..", "*", "%", "x"]
    for user in users:
        folder = root / "1" / path_segment(user)
        (folder / "nested").mkdir(parents=True)
        for n in range(3):
            (folder / f"f{n}").write_text(user)
        (folder / "nested" / "deep").write_text(user)
    sibling = root / "x"
    sibling.mkdir()
    (sibling / "keep").write_text("outside the project folder")

    for user in ["../x", "..", "*", "%"]:
        assert target.delete_batch(1, user, 3) == {"exports": 3}
        assert target.delete_batch(1, user, 3) == {"exports": 1}
        assert target.delete_batch(1, user, 3) == {"exports": 0}
        assert not (root / "1" / path_segment(user)).exists()
    assert sorted(p.name for p in (root / "1" / "x").rglob("*")) == [
        "deep",
        "f0",
        "f1",
        "f2",
        "nested",
    ]
    assert (sibling / "keep").exists()


def test_a_single_file_named_by_the_user_is_deleted(tmp_path: Path) -> None:
    root = tmp_path / "avatars"
    config = TargetsConfig(
        targets=[FilesTargetConfig(name="avatars", directory=str(root), pattern="{userId}.png")]
    )
    service = Database(parse_database_url(f"sqlite:///{tmp_path / 'svc.db'}"))
    [target] = build_targets(config, service)
    root.mkdir()
    (root / "bob.png").write_bytes(b"png")
    (root / "bobby.png").write_bytes(b"png")
    assert target.delete_batch(1, "bob", 10) == {"avatars": 1}
    assert target.delete_batch(1, "bob", 10) == {"avatars": 0}
    assert (root / "bobby.png").exists()


def test_a_user_id_column_that_is_not_text_is_refused_before_any_job(tmp_path: Path) -> None:
    """A number column compares as a number: a job for user '007' would take user 7's
    rows (a hostile pass did it on SQLite)."""
    other = f"sqlite:///{tmp_path / 'analytics.db'}"
    engine = create_engine(parse_database_url(other).sqlalchemy_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE events (event_id INTEGER PRIMARY KEY, uid INT, pid INT)"))
        conn.execute(text("INSERT INTO events (uid, pid) VALUES (7, 1)"))
    config = TargetsConfig(
        targets=[
            SqlTargetConfig(
                name="events",
                url=other,
                table="events",
                user_id_column="uid",
                project_id_column="pid",
            )
        ]
    )
    service = Database(parse_database_url(f"sqlite:///{tmp_path / 'svc.db'}"))
    [target] = build_targets(config, service)
    with pytest.raises(ConfigError, match="column 'uid' of table 'events' is not text"):
        target.check()
