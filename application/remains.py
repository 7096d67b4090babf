"""``jobtrail targets find``: where a person still appears, and the answer kept for
the auditor on their last ended deletion job (a RemainsSearched event).

The person is searched for by every id that names them: the user id, the
anonymous ids their sessions carry (theirs alone), and their sessions' keys while
those sessions are there. The event keeps only where and how many, never an id.
"""

from dataclasses import dataclass

from application.commands import JobCommands
from application.event_log import JobLog
from application.identities import Findings
from application.ports import RemainsSearcher
from application.proof import prove
from domain.lifecycle import JobStatus
from domain.request import validate_user_id

FINDER = "jobtrail:targets-find"
"""The actor of the events this records."""


@dataclass(frozen=True, slots=True)
class RemainsReport:
    findings: Findings
    identities: dict[str, int]
    """How many ids of each kind were searched for (never the ids)."""

    @property
    def nothing_left(self) -> bool:
        return not self.findings.places


def find_remains(searcher: RemainsSearcher, project_id: int, user_id: str) -> RemainsReport:
    """Every place the person still appears in the project (SearchFailed naming a
    store that could not be searched: then nothing is proven either way)."""
    validate_user_id(user_id)
    identities = searcher.identities(project_id, user_id)
    return RemainsReport(searcher.search(project_id, identities), identities.counts())


def record_search(
    log: JobLog, commands: JobCommands, project_id: int, user_id: str, report: RemainsReport
) -> int | None:
    """Keeps the search on the person's most recent ended job in the project, and
    says which; None when they have none (a job still running may yet delete what
    was found: a search before its end proves nothing about it)."""
    ended = [
        proven.job.job_id
        for proven in prove(log, user_id, [project_id])
        if JobStatus(proven.job.status).is_terminal
    ]
    if not ended:
        return None
    job_id = max(ended)
    commands.record_remains_search(job_id, FINDER, report.findings.places, report.findings.searched)
    return job_id
