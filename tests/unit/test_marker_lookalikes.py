"""A forgotten job shows ``[forgotten]`` where its user's id was. No request may name a
user by anything that displays like it: not the marker itself, nor the marker with
invisible characters inserted, in another case, or in compatibility forms (fullwidth
brackets, mathematical letters). Ordinary ids, non-ASCII ones included, still pass."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidJobRequest
from domain.request import FORGOTTEN, validate_user_id

INVISIBLE = [
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\u200e",  # left-to-right mark
    "\u202e",  # right-to-left override
    "\u2060",  # word joiner
    "\u2066",  # left-to-right isolate
    "\ufeff",  # zero-width no-break space (byte order mark)
    "\u00ad",  # soft hyphen
    "\u034f",  # combining grapheme joiner
    "\u180e",  # Mongolian vowel separator
    "\ufe0f",  # variation selector 16
    "\U000e0020",  # tag space
    "\U000e0101",  # variation selector 18
    "\u3164",  # Hangul filler
    "\uffa0",  # halfwidth Hangul filler
    " ",
    "\u00a0",  # no-break space
    "\u3000",  # ideographic space
]

FORMS = {
    "[": ["[", "\uff3b", "\ufe47"],  # fullwidth; vertical presentation form
    "]": ["]", "\uff3d", "\ufe48"],
}


def forms_of(character: str) -> list[str]:
    """The character as written, in upper case, fullwidth and as mathematical bold."""
    if character in FORMS:
        return FORMS[character]
    fullwidth = chr(ord(character) + 0xFEE0)
    bold = chr(0x1D41A + ord(character) - ord("a"))
    return [character, character.upper(), fullwidth, bold]


@st.composite
def lookalikes(draw: st.DrawFn) -> str:
    """The marker, each character in one of its forms, invisible characters anywhere."""
    shown = [draw(st.sampled_from(forms_of(character))) for character in FORGOTTEN]
    invisible = st.lists(st.sampled_from(INVISIBLE), max_size=2).map("".join)
    return draw(invisible) + "".join(part + draw(invisible) for part in shown)


def refusal_of(user_id: str) -> str:
    with pytest.raises(InvalidJobRequest) as refused:
        validate_user_id(user_id)
    return str(refused.value)


@given(lookalikes())
def test_anything_shown_like_the_forgotten_marker_is_refused(user_id: str) -> None:
    message = refusal_of(user_id)
    assert "reserved" in message
    assert user_id not in message or user_id == FORGOTTEN  # the message names no user


@pytest.mark.parametrize(
    "user_id",
    [
        "[forgotten]\u200b",
        "\u200b[forgotten]",
        "[FORGOTTEN]",
        "\uff3bforgotten\uff3d",
        "[forgotten] ",
    ],
)
def test_the_reported_lookalikes_are_refused(user_id: str) -> None:
    assert "reserved" in refusal_of(user_id)


@pytest.mark.parametrize(
    "user_id",
    [
        "zoë",
        "zoe\u0308",  # the same, decomposed: a visible mark, not an invisible one
        "Zoë@example.com",
        "名前",
        "[forgotten",
        "forgotten",
        "[forgotten]x",
        "[forgotten-2]",
        "[forgot ten]x",
        "👩\u200d💻",  # a zero-width joiner inside an emoji sequence
        "mickael@openreplay.com",
    ],
)
def test_ordinary_ids_are_still_accepted(user_id: str) -> None:
    validate_user_id(user_id)


@given(st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1))
def test_an_id_not_shown_like_the_marker_is_accepted(user_id: str) -> None:
    # Random text is (all but) never the marker in disguise: the rule refuses nothing else.
    if len(user_id) <= 256 and "\u2028" not in user_id and "\u2029" not in user_id:
        validate_user_id(user_id)
