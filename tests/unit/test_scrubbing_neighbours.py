"""Hostile neighbours of the person's id in a shared text: another person's id that
holds it, written in an encoding, or in another script, is never scrubbed; the
person's own id next to an escaped separator still is."""

import pytest

from domain.redaction import without_user_id
from domain.scrubbing import names_person, scrubbed_text


@pytest.mark.parametrize(
    "text",
    [
        "q=alice%40example.com&page=2",  # alice@example.com, percent-encoded
        "q=alice%2540example.com",  # encoded twice over
        "q=alice%2Esmith",
        '{\\"u\\": \\"alice\\u0040example.com\\"}',  # a JSON dump inside a text
        "aliceé and aliceñ",  # letters of another script make other words
        "alice%C3%A9 is someone else",
    ],
)
def test_another_persons_encoded_or_accented_id_that_holds_the_persons_is_left_whole(
    text: str,
) -> None:
    assert scrubbed_text(text, ["alice"]) == text
    assert not names_person(text, ["alice"])


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("filter=user%3Dalice%26page%3D2", "filter=user%3D[forgotten]%26page%3D2"),
        ("%22alice%22 and alice%2E", "%22[forgotten]%22 and [forgotten]%2E"),
        ("alice%20smith", "[forgotten]%20smith"),  # a space ends an identifier
        ("alice\\n next", "[forgotten]\\n next"),
        ("50% of alice%", "50% of [forgotten]%"),
    ],
)
def test_the_persons_id_next_to_an_escaped_separator_is_still_scrubbed(
    text: str, scrubbed: str
) -> None:
    assert scrubbed_text(text, ["alice"]) == scrubbed


def test_a_failed_jobs_error_keeps_another_users_accented_name_whole() -> None:
    assert without_user_id("no session for josé", "jos") == "no session for josé"


def test_a_person_whose_id_is_a_word_of_the_marker_is_not_found_in_the_marker() -> None:
    """User ``forgotten``: each pass would wrap the marker again (``[[forgotten]]``)
    and find them still, so a job would never end, and rewrite other people's rows."""
    scrubbed = scrubbed_text("locked for forgotten", ["forgotten"])

    assert scrubbed == "locked for [forgotten]"
    assert not names_person(scrubbed, ["forgotten"])
    assert scrubbed_text("bob was [forgotten] today", ["forgotten"]) == "bob was [forgotten] today"


def test_an_id_before_a_combining_mark_is_part_of_another_persons_name() -> None:
    """``zoe`` and a combining diaeresis is ``zoë`` (as macOS writes it): not user zoe."""
    assert scrubbed_text("assigned to zoe\u0308 today", ["zoe"]) == "assigned to zoe\u0308 today"
