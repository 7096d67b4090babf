"""`jobtrail openreplay import --clickhouse URL` writes a target for every table of
OpenReplay's ClickHouse that holds a person, named after it, read from the
installation's own catalog (run in process: chdb's engine folder is this
process's)."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.openreplay_clickhouse import clickhouse_targets_of
from infrastructure.target_config import ConfigError, load_config
from tests.integration.test_deletion_targets import write
from tests.openreplay_clickhouse import clickhouse_url, fresh_installation
from tests.openreplay_postgresql import openreplay_postgresql

VALUES = ["experimental.autocomplete", "product_analytics.autocomplete_simple"]
SESSIONS = "experimental.sessions"
CHILDREN = [
    "experimental.events",
    "experimental.ios_events",
    "experimental.user_favorite_sessions",
    "experimental.user_viewed_sessions",
    "product_analytics.events",
]
BY_USER = [
    "product_analytics.user_devices",
    "product_analytics.users",
    "product_analytics.users_distinct_id",
]


def import_(tmp_path: Path, source: str, clickhouse: str) -> tuple[int, str]:
    """The import, as an operator runs it in ``tmp_path`` (where it writes the targets)."""
    result = CliRunner().invoke(
        main,
        ["openreplay", "import", "--from", source, "--clickhouse", clickhouse],
        env={"JOBTRAIL_DATABASE_URL": f"sqlite:///{tmp_path / 'jobtrail.db'}"},
        catch_exceptions=False,
    )
    return result.exit_code, result.output


def test_the_import_writes_a_target_for_each_clickhouse_table_that_holds_a_person(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh_installation()
    monkeypatch.chdir(tmp_path)
    with openreplay_postgresql() as installation:
        code, output = import_(tmp_path, installation.url, clickhouse_url())
    assert code == 0, output
    config = load_config(str(tmp_path / "jobtrail-openreplay.toml"))  # and it is valid
    clickhouse = [t for t in config.targets if isinstance(t, ClickHouseTargetConfig)]
    assert [t.name for t in clickhouse] == [*VALUES, SESSIONS, *CHILDREN, *BY_USER]
    assert all(t.table == t.name and t.url == clickhouse_url() for t in clickhouse)
    named = {t.name: t for t in clickhouse}
    assert named[SESSIONS].anonymous_id_column == "user_anonymous_id"
    assert named["product_analytics.events"].user_id_column == "$user_id"
    assert named["experimental.autocomplete"].anonymous_id_types == [
        "USERANONYMOUSID",
        "USERANONYMOUSID_IOS",
        "USERANONYMOUSID_MOBILE",
    ]


def test_an_unreachable_clickhouse_is_refused_in_one_line_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with openreplay_postgresql() as installation:
        code, output = import_(tmp_path, installation.url, "http://operator:s3cret@127.0.0.1:9/")
    assert code == 1
    [line] = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert "ClickHouse unreachable at http://127.0.0.1:9 (--clickhouse)" in line
    assert "s3cret" not in output
    assert not (tmp_path / "jobtrail-openreplay.toml").exists()


def test_an_older_installation_gets_targets_for_the_tables_it_has() -> None:
    """1.22's ClickHouse: no product analytics tables yet."""
    tables = {
        SESSIONS: {"project_id", "session_id", "user_id", "user_anonymous_id"},
        "experimental.events": {"project_id", "session_id", "label"},
        "experimental.autocomplete": {"project_id", "type", "value"},
        "experimental.issues": {"project_id", "issue_id", "context_string"},
    }
    targets = clickhouse_targets_of("http://ch:8123/", tables)
    assert [t.name for t in targets] == [
        "experimental.autocomplete",
        SESSIONS,
        "experimental.events",
    ]


@pytest.mark.parametrize(
    ("toml", "complaint"),
    [
        ('table = "sessions"\nuser_id_column = "user_id"\n', "with its database"),
        ('table = "e.s"\n', "user_id_column"),
        ('table = "e.s"\nuser_id_column = "u"\nurl2 = 1\n', "url2"),
        ('table = "e.t"\nsessions_from = "pg"\n', "sessions_from must name a clickhouse"),
        ('table = "e.a"\nvalue_column = "v"\nuser_id_types = ["USERID"]\n', "type_column"),
        ('table = "e.a"\nvalue_column = "v"\ntype_column = "t"\n', "user_id_types"),
        (
            'table = "e.a"\nvalue_column = "v"\ntype_column = "t"\n'
            'anonymous_id_types = ["USERANONYMOUSID"]\n',
            "need identities_from",
        ),
        (
            'table = "e.a"\nvalue_column = "v"\nidentities_from = "ch-sessions"\n',
            "must come before ch-sessions",
        ),
    ],
)
def test_a_clickhouse_target_that_cannot_be_right_is_refused_with_a_reason(
    tmp_path: Path, toml: str, complaint: str
) -> None:
    head = (
        '[[targets]]\nkind = "sql"\nname = "pg"\ntable = "sessions"\n'
        '[[targets]]\nkind = "clickhouse"\nname = "ch-sessions"\nurl = "http://ch:8123/"\n'
        'table = "experimental.sessions"\nuser_id_column = "user_id"\n'
        'anonymous_id_column = "user_anonymous_id"\n'
    )
    target = '[[targets]]\nkind = "clickhouse"\nname = "x"\nurl = "http://ch:8123/"\n' + toml
    with pytest.raises(ConfigError, match=complaint):
        load_config(write(tmp_path, head + target))


def test_a_clickhouse_url_must_be_http_https_or_chdb(tmp_path: Path) -> None:
    toml = '[[targets]]\nkind = "clickhouse"\nname = "x"\nurl = "tcp://ch:9000"\ntable = "e.s"\n'
    with pytest.raises(ConfigError, match="http://…, https://… or chdb:///folder"):
        load_config(write(tmp_path, toml + 'user_id_column = "u"\n'))
