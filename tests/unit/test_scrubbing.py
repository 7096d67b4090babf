"""Scrubbing a shared row (issue 24, finding 5): the person's ids in a text or a JSON
document become the marker, in whatever encoding they were written, as whole
identifiers only; everything else stays as it was, and JSON stays JSON."""

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.request import FORGOTTEN
from domain.scrubbing import (
    ascii_runs,
    identities,
    json_names_person,
    names_person,
    scrubbed_json,
    scrubbed_text,
)

ALICE = "alice@example.com"


@pytest.mark.parametrize(
    ("text", "ids", "scrubbed"),
    [
        (f"Account {ALICE} is locked", [ALICE], "Account [forgotten] is locked"),
        (f"locked for {ALICE}.", [ALICE], "locked for [forgotten]."),
        ("GET /users/alice/orders failed", ["alice"], "GET /users/[forgotten]/orders failed"),
        ('{"user":"alice"}', ["alice"], '{"user":"[forgotten]"}'),
        ("q=alice%40example.com&page=2", [ALICE], "q=[forgotten]&page=2"),
        ('{\\"u\\": \\"alice\\u0040example.com\\"}', [ALICE], '{\\"u\\": \\"[forgotten]\\"}'),
        ("al and alice", ["al"], "[forgotten] and alice"),
        ("alice and al", ["al", "alice"], "[forgotten] and [forgotten]"),
        ("@alice, -alice- and _alice_", ["alice"], "@[forgotten], -[forgotten]- and _[forgotten]_"),
    ],
)
def test_each_whole_occurrence_in_any_encoding_becomes_the_marker(
    text: str, ids: list[str], scrubbed: str
) -> None:
    assert scrubbed_text(text, ids) == scrubbed
    assert names_person(text, ids)


@pytest.mark.parametrize(
    ("text", "one_id"),
    [
        ("alice is locked", "al"),  # a letter beyond: another word
        ("alice2 is locked", "alice"),
        (f"Account {ALICE} is locked", "alice"),  # the local part of someone's email
        ("alice.smith and alice_smith and alice-smith", "alice"),
        ("malice", "alice"),
        (f"Account {ALICE}.au is locked", ALICE),  # another address, longer
        (f"Account bob.{ALICE} is locked", ALICE),
    ],
)
def test_an_id_inside_a_longer_identifier_is_not_the_persons(text: str, one_id: str) -> None:
    """Another identifier that contains the id may be another person's: it is left
    whole (user ids are free text; `targets find` shows what is left)."""
    assert scrubbed_text(text, [one_id]) == text
    assert not names_person(text, [one_id])


def test_a_json_document_keeps_every_byte_but_the_persons_strings() -> None:
    document = (
        '{"filters": [{"type": "userId", "value": ["alice\\u0040example.com", "bob"]}],\n'
        '  "ratio": 0.1000000000000000055511151231257827, "note": "caf\\u00e9",'
        ' "alice@example.com": 1, "raw": "{\\"id\\":\\"alice@example.com\\"}"}'
    )
    scrubbed = scrubbed_json(document, [ALICE])

    assert scrubbed == (
        '{"filters": [{"type": "userId", "value": ["[forgotten]", "bob"]}],\n'
        '  "ratio": 0.1000000000000000055511151231257827, "note": "caf\\u00e9",'
        ' "[forgotten]": 1, "raw": "{\\"id\\":\\"[forgotten]\\"}"}'
    )
    assert json.loads(scrubbed)["raw"] == '{"id":"[forgotten]"}'
    assert json_names_person(document, [ALICE]) and not json_names_person(scrubbed, [ALICE])


def test_a_number_is_never_an_id() -> None:
    """A user id "12" is not line 12 of a stack trace."""
    assert (
        scrubbed_json('{"line": 12, "user": "12"}', ["12"]) == '{"line": 12, "user": "[forgotten]"}'
    )


def test_a_json_column_that_holds_no_json_is_scrubbed_as_text() -> None:
    assert scrubbed_json(f"not json: {ALICE}", [ALICE]) == "not json: [forgotten]"


def test_the_person_is_their_user_id_and_anonymous_ids_never_an_empty_one_or_the_marker() -> None:
    assert identities("u1", ["b", "", "a", "u1", FORGOTTEN, "a"]) == ["u1", "a", "b"]
    assert identities("", ["x"]) == ["x"]


def test_an_ids_runs_of_letters_and_digits_survive_any_encoding() -> None:
    assert ascii_runs("zoë smith@example.com") == ["zo", "smith", "example", "com"]
    assert ascii_runs("@@@") == []


_TEXT = st.text(alphabet=st.sampled_from(list('ab .@-/"\\é😀')), max_size=12)
_JSON: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(document=_JSON, one_id=st.sampled_from(["ab", "a b", "a@b", "é", "😀"]))
def test_a_scrubbed_document_is_json_and_nothing_of_the_person_is_left(
    document: Any, one_id: str
) -> None:
    for ascii_only in (True, False):
        written = json.dumps(document, ensure_ascii=ascii_only)
        scrubbed = scrubbed_json(written, [one_id])
        json.loads(scrubbed)
        assert not json_names_person(scrubbed, [one_id])
        if not json_names_person(written, [one_id]):
            assert scrubbed == written
