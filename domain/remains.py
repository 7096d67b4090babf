"""What a search for a person's remains found (``jobtrail targets find``), in the
shape a job's event keeps it: names and counts, never an id or a stored value."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RemainsPlace:
    """One place where the person still appears."""

    store: str
    """The database, bucket or folder (a URL without its password), or "target" for
    what a deletion target's own count says is left."""
    location: str
    """A table and column, an object pattern, or the target's receipt name."""
    count: int
    unit: str
    """What is counted: "rows", "objects", "files" or "items"."""
    covered_by: str | None = None
    """The target that deletes what is there, or None when no target does."""
    any_project: bool = False
    """The table has no project column: its rows were read whatever their project,
    and some may be another project's (where the same user id is another person)."""


@dataclass(frozen=True, slots=True)
class RemainsSearch:
    """A search as a job keeps it: when, where the person still appeared, and how
    much was searched (for instance ``{"targets": 3, "columns": 40}``)."""

    at: datetime
    places: tuple[RemainsPlace, ...]
    searched: dict[str, int]

    @property
    def nothing_left(self) -> bool:
        return not self.places
