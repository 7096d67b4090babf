"""The targets that find the person by value, built from their configuration."""

from collections.abc import Callable, Sequence

from infrastructure.database import Database
from infrastructure.person_identities import PersonIdentities
from infrastructure.person_target_config import PersonTargetConfig, ValuesTargetConfig
from infrastructure.scrub_targets import ScrubTarget
from infrastructure.target_config import SqlTargetConfig, TargetConfig
from infrastructure.value_targets import ValueRowsTarget

PersonTarget = ValueRowsTarget | ScrubTarget


def person_target(
    config: PersonTargetConfig,
    targets: Sequence[TargetConfig],
    database_for: Callable[[str | None], Database],
) -> PersonTarget:
    """``identities_from`` is read in the sessions' own database."""
    sessions = next(
        (t for t in targets if t.name == config.identities_from and isinstance(t, SqlTargetConfig)),
        None,
    )
    identities = PersonIdentities(sessions, database_for(sessions.url if sessions else config.url))
    if isinstance(config, ValuesTargetConfig):
        return ValueRowsTarget(config, database_for(config.url), identities)
    return ScrubTarget(config, database_for(config.url), identities)
