"""The values a search for a person's remains speaks in (``jobtrail targets find``)."""

from dataclasses import dataclass, field

from domain.remains import RemainsPlace


@dataclass(frozen=True, slots=True)
class Identities:
    """Who the person is in one project. Held in memory while the search runs:
    never printed, logged or recorded (only the counts are)."""

    user_id: str
    anonymous_ids: frozenset[str] = frozenset()
    """Those no session of another user id in the project carries."""
    session_ids: frozenset[str] = frozenset()
    """The keys of the person's sessions that are still there, as text."""
    shared_anonymous_ids: frozenset[str] = frozenset()
    """Their sessions' anonymous ids that someone else's sessions carry too: passed
    over (another person's rows would be found through them). Only counted."""

    @property
    def names(self) -> list[str]:
        """What names the person in text: the user id, then the anonymous ids."""
        return [self.user_id, *sorted(self.anonymous_ids - {self.user_id})]

    def counts(self) -> dict[str, int]:
        return {
            "userIds": 1,
            "anonymousIds": len(self.anonymous_ids),
            "sessionIds": len(self.session_ids),
            "sharedAnonymousIds": len(self.shared_anonymous_ids),
        }

    def merged(self, other: "Identities") -> "Identities":
        return Identities(
            self.user_id,
            self.anonymous_ids | other.anonymous_ids,
            self.session_ids | other.session_ids,
            self.shared_anonymous_ids | other.shared_anonymous_ids,
        )


@dataclass(slots=True)
class Findings:
    """Where a search found the person, and how much it searched (by kind:
    ``targets``, ``databases``, ``columns``, ``objectPatterns``…)."""

    places: list[RemainsPlace] = field(default_factory=list)
    searched: dict[str, int] = field(default_factory=dict)

    def add(self, other: "Findings") -> None:
        self.places += other.places
        for kind, count in other.searched.items():
            self.searched[kind] = self.searched.get(kind, 0) + count


class SearchFailed(Exception):
    """A store could not be searched: one line naming it (never a value, an id or a
    library's text). Nothing can be said to be left or not."""
