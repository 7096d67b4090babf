"""Issue 24, findings 2 and 5: what names the person outside their sessions. The
autocomplete values that are their user id or their own anonymous ids go; shared
rows (a grouped error, an issue, a staff member's saved search) stay, with the
person's ids replaced by the marker. Tables shaped like OpenReplay's, on both
backends, emptied by a real job; nobody else's rows change."""

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from api.composition import Services
from domain.lifecycle import JobStatus
from infrastructure.person_target_config import ScrubTargetConfig, ValuesTargetConfig
from infrastructure.target_config import ConfigError, SqlTargetConfig, TargetsConfig, load_config
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.integration.test_deletion_targets import write
from tests.runner_support import RunnerKit, runner_kit

ALICE, BOB = "alice@example.com", "bob@example.com"
USER_TYPES = ["USERID", "USERID_MOBILE"]
ANONYMOUS_TYPES = ["USERANONYMOUSID", "USERANONYMOUSID_MOBILE"]

SCHEMA = """
CREATE TABLE or_sessions (session_id BIGINT PRIMARY KEY, project_id INTEGER NOT NULL,
    user_id TEXT, user_anonymous_id TEXT);
CREATE TABLE autocomplete (value TEXT NOT NULL, type TEXT NOT NULL,
    project_id INTEGER NOT NULL);
CREATE TABLE errors (error_id TEXT PRIMARY KEY, project_id INTEGER NOT NULL, name TEXT,
    message TEXT NOT NULL, payload {json} NOT NULL, stacktrace {json});
CREATE TABLE issues (issue_id TEXT PRIMARY KEY, project_id INTEGER NOT NULL,
    context_string TEXT NOT NULL);
CREATE TABLE saved_searches (search_id TEXT PRIMARY KEY, project_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL, name VARCHAR(255), search_data {json} NOT NULL)
"""

SESSIONS = [
    # (session, project, user, anonymous id)
    (1, 1, ALICE, "anon-alice"),
    (2, 1, ALICE, "shared-tablet"),  # bob's sessions carry it too: not alice's
    (3, 1, ALICE, None),
    (4, 1, BOB, "shared-tablet"),
    (5, 1, BOB, "anon-bob"),
    (6, 1, None, "anon-alice"),  # before alice logged in: does not share it
    (7, 2, ALICE, "anon-alice"),
]

AUTOCOMPLETE = [
    # (value, type, project, alice's?)
    (ALICE, "USERID", 1, True),
    (ALICE, "USERID_MOBILE", 1, True),
    ("anon-alice", "USERANONYMOUSID", 1, True),
    ("anon-alice", "USERANONYMOUSID_MOBILE", 1, True),
    ("shared-tablet", "USERANONYMOUSID", 1, False),
    (BOB, "USERID", 1, False),
    ("anon-bob", "USERANONYMOUSID", 1, False),
    (ALICE, "CUSTOM", 1, False),  # an event's name, not an id
    ("anon-alice", "USERID", 1, False),  # somebody's user id
    (f"{ALICE}.au", "USERID", 1, False),
    (ALICE, "USERID", 2, False),
    ("anon-alice", "USERANONYMOUSID", 2, False),
]

EXACT = "0.1000000000000000055511151231257827"  # no float says it
LOCKED = f'{{"user": "{ALICE}", "attempts": 3, "ratio": {EXACT}}}'
ERRORS = [
    # (error, project, name, message, payload, stacktrace)
    ("e1", 1, "Error", f"Account {ALICE} is locked", LOCKED, [{"file": "a.js", "line": 10}]),
    ("e2", 1, "Error", f"Account {ALICE}.au is locked", {"user": f"{ALICE}.au"}, None),
    ("e3", 1, "TypeError", f"Timeout for {BOB}", {"user": BOB}, None),
    ("e4", 2, "Error", f"Account {ALICE} is locked", {"user": ALICE}, None),
]

ISSUES = [
    ("i1", 1, "Click rage on #profile of anon-alice"),
    ("i2", 1, "Dead click on shared-tablet"),
    ("i3", 2, "Dead click for anon-alice"),
    ("i4", 1, "Dead click by (-_-) today"),
]

SEARCH_FILTERS = '{{"filters": [{{"type": "userId", "value": [{0}], "operator": "is"}}]}}'
SEARCHES = [
    # (search, project, staff member, the JSON as the staff member's client wrote it)
    ("s1", 1, 7, SEARCH_FILTERS.format(json.dumps(ALICE))),
    ("s2", 1, 7, SEARCH_FILTERS.format('"alice\\u0040example.com", "anon-bob"')),
    ("s3", 1, 8, SEARCH_FILTERS.format(json.dumps(BOB))),
    ("s4", 2, 7, SEARCH_FILTERS.format(json.dumps(ALICE))),
]


def targets_config(batch_size: int = 2) -> TargetsConfig:
    return TargetsConfig(
        batch_size=batch_size,
        targets=[
            ValuesTargetConfig(
                name="autocomplete",
                table="autocomplete",
                type_column="type",
                user_id_types=USER_TYPES,
                anonymous_id_types=ANONYMOUS_TYPES,
                identities_from="or_sessions",
            ),
            ScrubTargetConfig(
                name="errors",
                table="errors",
                text_columns=["name", "message"],
                json_columns=["payload", "stacktrace"],
                identities_from="or_sessions",
            ),
            ScrubTargetConfig(
                name="issues",
                table="issues",
                text_columns=["context_string"],
                identities_from="or_sessions",
            ),
            ScrubTargetConfig(
                name="saved_searches",
                table="saved_searches",
                json_columns=["search_data"],
                identities_from="or_sessions",
            ),
            SqlTargetConfig(
                name="or_sessions",
                table="or_sessions",
                id_column="session_id",
                anonymous_id_column="user_anonymous_id",
            ),
        ],
    )


@pytest.fixture
def kit(services: Services, tmp_path: Path) -> RunnerKit:
    postgres = services.database.backend == "postgresql"
    with services.database.writer() as conn:
        for statement in SCHEMA.format(json="JSONB" if postgres else "TEXT").split(";"):
            conn.execute(text(statement))
        for row in SESSIONS:
            conn.execute(
                text("INSERT INTO or_sessions VALUES (:s, :p, :u, :a)"),
                dict(zip("spua", row, strict=True)),
            )
        for value, kind, project, _ in AUTOCOMPLETE:
            conn.execute(
                text("INSERT INTO autocomplete VALUES (:v, :t, :p)"),
                {"v": value, "t": kind, "p": project},
            )
        for error, project, name, message, payload, stack in ERRORS:
            conn.execute(
                text("INSERT INTO errors VALUES (:e, :p, :n, :m, :payload, :stack)"),
                {
                    "e": error,
                    "p": project,
                    "n": name,
                    "m": message,
                    "payload": payload if isinstance(payload, str) else json.dumps(payload),
                    "stack": None if stack is None else json.dumps(stack),
                },
            )
        for issue in ISSUES:
            conn.execute(
                text("INSERT INTO issues VALUES (:i, :p, :c)"),
                dict(zip("ipc", issue, strict=True)),
            )
        for search, project, staff, data in SEARCHES:
            conn.execute(
                text("INSERT INTO saved_searches VALUES (:s, :p, :u, 'mine', :d)"),
                {"s": search, "p": project, "u": staff, "d": data},
            )
    return runner_kit(services, tmp_path)


def rows(kit: RunnerKit, query: str) -> list[tuple[Any, ...]]:
    with kit.services.database.reader() as conn:
        return [tuple(row) for row in conn.execute(text(query))]


def as_json(value: Any) -> Any:
    """A JSON column's value as a document (jsonb comes back decoded)."""
    return json.loads(value) if isinstance(value, str) else value


def delete_alice(kit: RunnerKit, batch_size: int = 2) -> tuple[int, dict[str, int]]:
    targets = build_targets(targets_config(batch_size), kit.services.database)
    check_targets(targets)
    job_id = kit.schedule(ALICE, project_id=1)
    kit.worker(kit.runner(batch_size=batch_size, targets=[*targets])).run_due_jobs()
    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    return job_id, kit.services.history.receipt(1, job_id)


def test_autocomplete_values_that_are_the_person_go_and_nobody_elses(kit: RunnerKit) -> None:
    _, receipt = delete_alice(kit)

    assert receipt["autocomplete"] == 4
    left = rows(kit, "SELECT value, type, project_id FROM autocomplete")
    assert sorted(left) == sorted((v, t, p) for v, t, p, alices in AUTOCOMPLETE if not alices)


def test_a_grouped_errors_message_loses_the_person_and_keeps_everything_else(
    kit: RunnerKit,
) -> None:
    _, receipt = delete_alice(kit)

    assert receipt["errors"] == 1
    found = {
        error: (name, message, as_json(payload), as_json(stack))
        for error, name, message, payload, stack in rows(
            kit, "SELECT error_id, name, message, payload, stacktrace FROM errors"
        )
    }
    assert found["e1"] == (
        "Error",
        "Account [forgotten] is locked",
        {**json.loads(LOCKED), "user": "[forgotten]"},
        [{"file": "a.js", "line": 10}],
    )
    for error, _, name, message, payload, stack in ERRORS[1:]:
        assert found[error] == (name, message, as_json(payload), stack)  # not alice's


def test_a_scrubbed_row_keeps_its_other_bytes(kit: RunnerKit) -> None:
    """A number jsonb would round through a float, written back as it was read."""
    delete_alice(kit)

    [(payload,)] = rows(kit, "SELECT CAST(payload AS TEXT) FROM errors WHERE error_id = 'e1'")
    assert f'"ratio": {EXACT}' in payload


def test_an_issue_naming_an_anonymous_id_of_the_person_is_scrubbed(kit: RunnerKit) -> None:
    _, receipt = delete_alice(kit)

    assert receipt["issues"] == 1
    assert sorted(rows(kit, "SELECT issue_id, context_string FROM issues")) == [
        ("i1", "Click rage on #profile of [forgotten]"),
        ("i2", "Dead click on shared-tablet"),  # a shared device is nobody's alone
        ("i3", "Dead click for anon-alice"),  # project 2's
        ISSUES[3][::2],
    ]


def test_an_id_without_letters_or_digits_is_found_in_every_row(kit: RunnerKit) -> None:
    """No run of letters to narrow the search by: the project's every row is read."""
    targets = build_targets(targets_config(), kit.services.database)
    job_id = kit.schedule("(-_-)", project_id=1)
    kit.worker(kit.runner(batch_size=2, targets=[*targets])).run_due_jobs()

    assert kit.services.history.receipt(1, job_id) == {
        "autocomplete": 0,
        "errors": 0,
        "issues": 1,
        "saved_searches": 0,
        "or_sessions": 0,
    }
    assert rows(kit, "SELECT context_string FROM issues WHERE issue_id = 'i4'") == [
        ("Dead click by [forgotten] today",)
    ]


def test_a_saved_search_stays_valid_json_with_the_marker_in_place(kit: RunnerKit) -> None:
    _, receipt = delete_alice(kit)

    assert receipt["saved_searches"] == 2
    found = {
        search: as_json(data)["filters"][0]["value"]
        for search, data in rows(kit, "SELECT search_id, search_data FROM saved_searches")
    }
    assert found == {
        "s1": ["[forgotten]"],
        "s2": ["[forgotten]", "anon-bob"],  # written with an escape: found all the same
        "s3": [BOB],
        "s4": [ALICE],  # project 2's
    }


def test_the_receipt_counts_each_table_and_nothing_remains(kit: RunnerKit) -> None:
    targets = build_targets(targets_config(), kit.services.database)
    before = {name: n for t in targets for name, n in t.remaining(1, ALICE).items()}
    assert before == {
        "autocomplete": 4,
        "errors": 1,
        "issues": 1,
        "saved_searches": 2,
        "or_sessions": 3,
    }

    _, receipt = delete_alice(kit, batch_size=1)

    assert receipt == before
    assert rows(kit, "SELECT session_id FROM or_sessions ORDER BY 1") == [(4,), (5,), (6,), (7,)]
    # Bob's are all there, the shared tablet's too: with alice gone, it is his alone.
    assert {name: n for t in targets for name, n in t.remaining(1, BOB).items()} == {
        "autocomplete": 3,
        "errors": 1,
        "issues": 1,
        "saved_searches": 2,
        "or_sessions": 2,
    }


def test_anonymous_ids_come_from_sessions_that_come_after(kit: RunnerKit, tmp_path: Path) -> None:
    before = write(
        tmp_path,
        '[[targets]]\nkind = "sql"\nname = "s"\ntable = "or_sessions"\n'
        'anonymous_id_column = "user_anonymous_id"\n'
        '[[targets]]\nkind = "values"\nname = "a"\ntable = "autocomplete"\n'
        'identities_from = "s"\n',
    )
    with pytest.raises(ConfigError, match="must come before s"):
        load_config(before)
    without_column = write(
        tmp_path,
        '[[targets]]\nkind = "scrub"\nname = "e"\ntable = "errors"\n'
        'text_columns = ["message"]\nidentities_from = "s"\n'
        '[[targets]]\nkind = "sql"\nname = "s"\ntable = "or_sessions"\n',
    )
    with pytest.raises(ConfigError, match="anonymous_id_column"):
        load_config(without_column)
    types_alone = write(
        tmp_path,
        '[[targets]]\nkind = "values"\nname = "a"\ntable = "autocomplete"\n'
        'user_id_types = ["USERID"]\n',
    )
    with pytest.raises(ConfigError, match="type_column"):
        load_config(types_alone)


@pytest.mark.parametrize(
    ("target", "complaint"),
    [
        (ScrubTargetConfig(name="e", table="errors", text_columns=["payload"]), "json_columns"),
        (ScrubTargetConfig(name="e", table="errors", text_columns=["msg"]), "no column 'msg'"),
        (ScrubTargetConfig(name="e", table="nowhere", text_columns=["m"]), "does not exist"),
        (
            ScrubTargetConfig(
                name="e", table="errors", text_columns=["message"], project_id_column="pid"
            ),
            "all_projects",
        ),
        (ValuesTargetConfig(name="a", table="autocomplete", value_column="v"), "no column 'v'"),
        (
            ValuesTargetConfig(name="a", table="or_sessions", value_column="session_id"),
            "'session_id' holds no text",
        ),
    ],
    ids=["json-as-text", "column", "table", "project", "value", "not-text"],
)
def test_a_target_that_cannot_work_is_refused_naming_it(
    kit: RunnerKit, target: ScrubTargetConfig | ValuesTargetConfig, complaint: str
) -> None:
    if complaint == "json_columns" and kit.services.database.backend == "sqlite":
        pytest.skip("TEXT holding JSON is text to SQLite: named either way")
    [built] = build_targets(TargetsConfig(targets=[target]), kit.services.database)
    with pytest.raises(ConfigError, match=complaint):
        built.check()
