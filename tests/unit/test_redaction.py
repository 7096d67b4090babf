"""The runner's last net (ADR 18): a failed job's error text is kept for good, so
it is kept without its user's id in any encoding a library may have written it in:
as it is, percent-encoded once or more (with any safe characters, either case of
hex, ``+`` for a space), as JSON or Python escapes, as a bytes value's repr, or
any nesting of these."""

import json
import re
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from domain.errors import InvalidJobRequest
from domain.redaction import REDACTED, without_user_id
from domain.request import validate_user_id

USER = "zoë smith@example.com"


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        (  # botocore's URL: the prefix path-encoded by the target, then by botocore
            'Could not connect to the endpoint URL: "http://127.0.0.1:9/mobs?list-type=2'
            '&prefix=1%2Fzo%25C3%25AB%2520smith%40example.com%2F&encoding-type=url"',
            'Could not connect to the endpoint URL: "http://127.0.0.1:9/mobs?list-type=2'
            '&prefix=1%2F[user]%2F&encoding-type=url"',
        ),
        ("prefix=1%2fzo%25c3%25ab%2520smith%40example.com%2f", "prefix=1%2f[user]%2f"),
        ("q=zo%C3%AB+smith%40example.com&x=1", "q=[user]&x=1"),
        ("k=zo%252525C3%252525AB%25252520smith%25252540example.com", "k=[user]"),
        ('{"userId": "zo\\u00eb smith@example.com"}', '{"userId": "[user]"}'),
        ('{"userId": "zo\\u00EB smith\\u0040example.com"}', '{"userId": "[user]"}'),
        ("a=zo%5Cu00eb%20smith%40example.com", "a=[user]"),
        ("zoë smith@example.com, zoë smith@example.com.", "[user], [user]."),
        ("path 1/zo%C3%AB%20smith%40example.com/f: denied", "path 1/[user]/f: denied"),
    ],
)
def test_a_users_id_is_taken_out_in_whatever_encoding_it_was_written(
    message: str, kept: str
) -> None:
    assert without_user_id(message, USER) == kept


@pytest.mark.parametrize(
    ("message", "user_id", "kept"),
    [
        ("[parameters: ('o\\'brien \\\\ 1', 1)]", "o'brien \\ 1", "[parameters: ('[user]', 1)]"),
        ("params: ('\\xadnna',)", "\xadnna", "params: ('[user]',)"),
        ("emoji \\ud83d\\ude00x here", "\U0001f600x", "emoji [user] here"),
        ("emoji %F0%9F%98%80x here", "\U0001f600x", "emoji [user] here"),
        ("a b: a+b", "a b", "[user]: [user]"),
        ("a+b: a b", "a+b", "[user]: a b"),  # a space is never an encoded "+"
        ("50%off and 50%25off", "50%off", "[user] and [user]"),
        # A bytes value's repr: each byte of the id's UTF-8 escaped on its own.
        ("params: (b'zo\\xc3\\xab smith',)", "zoë smith", "params: (b'[user]',)"),
        ("key b'\\xf0\\x9f\\x98\\x80x' gone", "\U0001f600x", "key b'[user]' gone"),
    ],
)
def test_escapes_of_python_json_and_forms_are_read(message: str, user_id: str, kept: str) -> None:
    assert without_user_id(message, user_id) == kept


@pytest.mark.parametrize(
    ("message", "user_id"),
    [
        ("connection failed", "a"),  # whole occurrences only: user "a" keeps "failed"
        ("bucket mobs: S3 AccessDenied", "s3"),
        ("prefix=1%2Fzo%25C3%25AB%2520smith%40example.com%2F", "zoë smith@example.co"),
        ("prefix=1%2Fzo%25C3%25AB%2520smith%40example.com%2F", "zoe smith@example.com"),
        ("prefix=1%2Fzo%25C3%25AB%2520smith%40example.com%2F", "Zoë smith@example.com"),
        ("see %2Fetc and 100%", "bob"),
        ("a%41b", "A"),
    ],
)
def test_a_text_without_the_user_is_left_as_it_is(message: str, user_id: str) -> None:
    assert without_user_id(message, user_id) == message


# Encoders a library may apply, and any nesting of them.
_PUNCTUATION = "/:@!$&'()*+,;= \"\\%"
Encoder = Callable[[str], str]


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


@st.composite
def encoders(draw: st.DrawFn) -> Encoder:
    safe = "".join(draw(st.sets(st.sampled_from(_PUNCTUATION.replace("%", "")))))
    lower = draw(st.booleans())
    kinds = ["quote", "quote_plus", "json", "json_utf8", "repr", "bytes_repr"]
    kind = draw(st.sampled_from(kinds))

    def encode(text: str) -> str:
        if kind == "quote":
            encoded = quote(text, safe=safe)
        elif kind == "quote_plus":
            encoded = quote_plus(text, safe=safe)
        elif kind == "json":
            encoded = json.dumps(text)[1:-1]
        elif kind == "json_utf8":
            encoded = json.dumps(text, ensure_ascii=False)[1:-1]
        elif kind == "repr":
            encoded = repr(text)[1:-1]
        else:  # a bytes value's repr (b'...'): its UTF-8, a byte at a time
            encoded = repr(text.encode())[2:-1]
        return _lower_hex(encoded) if lower else encoded

    return encode


def valid(user_id: str) -> bool:
    try:
        validate_user_id(user_id)
    except InvalidJobRequest:
        return False
    return True


user_ids = st.text(
    st.characters(exclude_categories=["Cs", "Cc"]) | st.sampled_from(" @/%+\\'\"ëa1"),
    min_size=1,
    max_size=24,
).filter(valid)
surroundings = st.text(
    st.characters(exclude_categories=["Cs"]) | st.sampled_from("%\\+uxU2500cCfF/ "), max_size=30
)
SEPARATORS = [" ", "/", "=", ": ", "'", '"', "(", ")", "%2F", "&", "%26", ", "]


def forms_of(character: str) -> set[str]:
    """What any encoding of ``character`` holds as it is: the character itself, or
    the hex of its UTF-8 bytes, its code point or its UTF-16 halves (no encoder
    ever escapes a letter or a digit, so an escape's hex digits stay as they are)."""
    code = ord(character)
    forms = {character.lower(), f"{code:04x}", f"{code:08x}"}
    forms |= {f"{byte:02x}" for byte in character.encode()}
    if code < 0x100:
        forms.add(f"{code:02x}")
    if code > 0xFFFF:
        utf16 = character.encode("utf-16-be")
        forms |= {utf16[:2].hex(), utf16[2:].hex()}
    if character == " ":
        forms.add("+")
    return forms


def cannot_spell(user_id: str, *texts: str) -> bool:
    """Whether some character of the id cannot be read anywhere in these texts."""
    haystack = "\x00".join(texts).lower()
    return any(all(form not in haystack for form in forms_of(c)) for c in user_id)


@given(
    user_id=user_ids,
    layers=st.lists(encoders(), min_size=0, max_size=3),
    before=surroundings,
    after=surroundings,
    left=st.sampled_from(SEPARATORS),
    right=st.sampled_from(SEPARATORS),
)
@example(
    user_id="zoë smith@example.com",
    layers=[lambda t: quote(t, safe="@+-_.,=~"), lambda t: quote(f"1/{t}/", safe="")],
    before="prefix=",
    after="&encoding-type=url",
    left="",
    right="",
)
def test_no_encoding_of_the_id_survives_in_any_surrounding_text(
    user_id: str,
    layers: list[Encoder],
    before: str,
    after: str,
    left: str,
    right: str,
) -> None:
    # The surroundings cannot spell the id: whatever of it is left after redaction
    # can only be what redaction missed.
    assume(cannot_spell(user_id, before, after, left, right))
    forms = [user_id]
    for encode in layers:
        forms.append(encode(forms[-1]))
    text = f"{before}{left}{forms[-1]}{right}{after}"

    kept = without_user_id(text, user_id)

    # The marker is not the id, even where the id is "[user]" or a part of it.
    shown = kept.replace(REDACTED, "\x00")
    assert all(form not in shown for form in forms), (text, kept)
    assert REDACTED in kept


@given(user_id=user_ids, text=surroundings)
def test_a_text_that_cannot_spell_the_id_is_unchanged(user_id: str, text: str) -> None:
    assume(cannot_spell(user_id, text))
    assert without_user_id(text, user_id) == text
