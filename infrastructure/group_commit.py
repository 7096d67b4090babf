"""Group commit on the event loop: concurrent scheduling requests decided together,
one append and one commit for each batch (infrastructure.batches)."""

from collections.abc import Hashable
from typing import Protocol, runtime_checkable

from application.outcome import Outcome
from application.ports import SchedulingStore
from application.scheduling import ScheduleRequest, Scheduling
from infrastructure.batches import Batches


@runtime_checkable
class Opening(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...


class LoopScheduling:
    """Scheduling as the HTTP app reaches it: on its event loop, concurrent requests
    decided together, on the store its database has (opened and closed by the app)."""

    def __init__(self, scheduling: Scheduling, store: SchedulingStore, in_flight: int) -> None:
        self._together: Batches[ScheduleRequest, Outcome] = Batches(
            scheduling.schedule, key=_user, in_flight=in_flight
        )
        self._store = store

    async def open(self) -> None:
        if isinstance(self._store, Opening):
            await self._store.open()

    async def close(self) -> None:
        if isinstance(self._store, Opening):
            await self._store.close()

    async def schedule_user_deletion(self, project_id: int, user_id: str, actor: str) -> Outcome:
        return await self._together.submit(ScheduleRequest(project_id, user_id, actor))


def _user(request: ScheduleRequest) -> Hashable:
    return (request.project_id, request.user_id)
