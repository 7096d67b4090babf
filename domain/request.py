"""A deletion request's own rules: whose data, and the job id it is known by."""

import re
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.errors import InvalidJobRequest
from domain.lookalikes import as_seen
from domain.name_ids import NameIds

DELETE_USER_DATA = "delete_user_data"
MAX_REFERENCE_ID_LENGTH = 256
_JOBS = NameIds(uuid5(NAMESPACE_URL, "jobtrail:job"))


def job_aggregate_id(job_id: int) -> UUID:
    """The aggregate id of a public job id: derived, so no lookup table is needed."""
    return _JOBS.id_of(str(job_id))


def deletion_description(user_id: str) -> str:
    return f"Delete user sessions of userId = {user_id}"


FORGOTTEN = "[forgotten]"
"""What a job shows in place of its user's id once that id is forgotten (its data key
destroyed). Reserved: no request may name a user so, so a forgotten job can never be
mistaken for a job of a user called that."""

FORGOTTEN_PERSONAL_DATA = {
    "reference_id": FORGOTTEN,
    "description": deletion_description(FORGOTTEN),
    "reason": FORGOTTEN,
}
"""The personal fields of a job's events once its user is forgotten, by name (an
extension's reason may name the person too): everything else is kept."""


RESERVED_USER_ID = (
    f"userId {FORGOTTEN!r} is reserved, and so is anything that displays like it (in other "
    "case or width, or with invisible characters): it marks a forgotten user."
)
"""Why an id that displays as the marker is refused; it repeats no id (ADR 18). Were
such an id accepted, its jobs would look forgotten while its data is still held."""


def is_forgotten(user_id: str) -> bool:
    return user_id == FORGOTTEN


CONTROL_CHARACTER_RANGES = ((0x00, 0x1F), (0x7F, 0x9F), (0x2028, 0x2029))
"""C0 and C1 controls, DEL, and the Unicode line and paragraph separators: whatever a
log, a CSV file or a terminal would take for a line break or a command. (The API's
document states them as a pattern of its userId.)"""
_CONTROL = re.compile(
    "[" + "".join(f"\\u{low:04x}-\\u{high:04x}" for low, high in CONTROL_CHARACTER_RANGES) + "]"
)
"""One character class of those ranges: searched in C, where a character at a time
in Python cost more than the rest of a request's validation."""


def has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


def validate_user_id(user_id: str) -> None:
    if not user_id:
        raise InvalidJobRequest("userId must not be empty.")
    if len(user_id) > MAX_REFERENCE_ID_LENGTH:
        raise InvalidJobRequest(f"userId must be at most {MAX_REFERENCE_ID_LENGTH} characters.")
    if as_seen(user_id) == FORGOTTEN:
        raise InvalidJobRequest(RESERVED_USER_ID)
    if has_control_characters(user_id):
        # A NUL cannot be stored, and a line feed or other control character in an id
        # breaks logs, CSV exports and terminals: refused, never silently rewritten.
        raise InvalidJobRequest("userId must not contain control characters (NUL, line feed…).")
