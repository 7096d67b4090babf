"""The person's identities out of text shared with other people's data (a grouped
error's message, a staff member's saved search), replaced by ``FORGOTTEN``.

An occurrence is found by domain.redaction's chart, in any encoding a library writes
(JSON escapes, percent-encoding, nested). It is the person's only where it is a whole
identifier: a letter or digit next to it, or one of ``JOINING`` with a letter or digit
beyond, makes it part of another identifier. User ``al`` is not in ``alice``, nor user
``alice`` in ``alice.smith`` or ``alice@example.com``, which may be other people's ids;
``alice`` at the end of a sentence (``locked for alice.``), in a path
(``/users/alice/``) or between quotes is. A JSON value keeps its shape: the ids are
replaced inside its strings (keys too), each string re-encoded as JSON, and every
other byte of the document stays as it was, so it remains valid JSON.
"""

import json
import re
from collections.abc import Collection

from domain.redaction import names_any, replaced
from domain.request import FORGOTTEN

JOINING = frozenset(".-_@")
"""Characters inside identifiers (emails, dotted and dashed names): next to an
occurrence, followed by a letter or digit, they make it part of a longer one."""

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
"""A JSON string token. Outside strings a JSON document holds no quote, so scanning
from the start finds exactly its strings."""


def identities(user_id: str, anonymous_ids: Collection[str]) -> list[str]:
    """What names the person: the user id, then the anonymous ids; never an empty
    value, nor the marker itself (replacing it would change nothing, and find it
    forever)."""
    found = [user_id, *sorted(set(anonymous_ids) - {user_id})]
    return [one for one in found if one and one != FORGOTTEN]


def scrubbed_text(text: str, ids: Collection[str]) -> str:
    return replaced(text, ids, FORGOTTEN, JOINING)


def names_person(text: str, ids: Collection[str]) -> bool:
    return names_any(text, ids, FORGOTTEN, JOINING)


def scrubbed_json(document: str, ids: Collection[str]) -> str:
    """A JSON document with the ids replaced in its strings; a text that is not JSON
    is scrubbed as text (it was not valid JSON before either)."""
    if not _is_json(document):
        return scrubbed_text(document, ids)
    return _JSON_STRING.sub(lambda token: _scrubbed_string(token.group(), ids), document)


def json_names_person(document: str, ids: Collection[str]) -> bool:
    if not _is_json(document):
        return names_person(document, ids)
    return any(names_person(json.loads(t.group()), ids) for t in _JSON_STRING.finditer(document))


def ascii_runs(one_id: str) -> list[str]:
    """The id's runs of ASCII letters and digits, in order: no encoding escapes a
    letter or a digit, so any text that holds the id, however encoded, holds them,
    in this order."""
    return re.findall(r"[A-Za-z0-9]+", one_id)


def _scrubbed_string(token: str, ids: Collection[str]) -> str:
    value = json.loads(token)
    scrubbed = scrubbed_text(value, ids)
    if scrubbed == value:
        return token  # as it was written, escapes and all
    encoded = json.dumps(scrubbed, ensure_ascii=False)
    try:
        encoded.encode()
    except UnicodeEncodeError:  # a lone surrogate escape: kept as an escape
        encoded = json.dumps(scrubbed)
    return encoded


def _is_json(document: str) -> bool:
    try:
        json.loads(document)
    except ValueError:
        return False
    return True
