"""What a projectKey may be: the one path segment that names a project in every URL
of the API (``/api/v1/{projectKey}/…``). The API looks a project up only by a key
that keeps this rule, and a project is made (or imported) only with one.

The rule is the set of characters a URL carries as they are in any client, with no
escaping (RFC 3986's unreserved characters): letters, digits, ``-``, ``.``, ``_``
and ``~``. So a key cannot hold a ``/`` (it would be two segments), a space, a
control character, ``%``, ``?`` or ``#``; and ``.`` or ``..`` alone are refused,
since clients remove such segments from a path before sending it. jobtrail makes
keys of 20 letters and digits, and so does OpenReplay.
"""

import string

MAX_PROJECT_KEY_LENGTH = 64
"""The longest key: the width of the column that holds it."""

PROJECT_KEY_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~")


def project_key_problem(key: str | None) -> str | None:
    """Why ``key`` cannot be a projectKey, in a few words; None if it can. The key
    itself is never quoted whole (it may be long, or hold control characters)."""
    if key is None:
        return "it is missing (NULL)"
    if not key:
        return "it is empty"
    if len(key) > MAX_PROJECT_KEY_LENGTH:
        return f"it is {len(key)} characters long; a key has at most {MAX_PROJECT_KEY_LENGTH}"
    if key in (".", ".."):
        return f"{key!r} alone is not a path segment (clients remove it from URLs)"
    for character in key:
        if character not in PROJECT_KEY_CHARACTERS:
            return (
                f"it holds {character!r}; a key is letters, digits, '-', '.', '_' and '~' "
                "(one URL path segment)"
            )
    return None


def is_project_key(key: str) -> bool:
    return project_key_problem(key) is None
