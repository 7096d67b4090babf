"""What a batch's sessions name in files or objects is removed until none is left: the
sessions' rows go with the batch, and with them the only way to find what lands
meanwhile (a recorder's last chunk, a new version of an object)."""

from collections.abc import Callable, Iterable

from application.ports import BatchInterrupted, TransientTargetError

PASSES = 3
"""How many removals a batch makes before it gives up on things that keep appearing."""


def removed_until_gone(
    target: str, what: str, remove: Callable[[], Iterable[int]], left: Callable[[], bool]
) -> int:
    """``remove`` (its steps, each how many went) until ``left`` says nothing is, at
    most ``PASSES`` times: how many went. Whatever fails, what went is counted (a
    BatchInterrupted: gone is gone for good), and ``what`` still appearing after the
    last pass fails the batch, transiently (its rows stay, to be found again)."""
    removed = 0
    try:
        for _ in range(PASSES):
            for step in remove():
                removed += step  # counted as it goes: a later step may fail
            if not left():
                return removed
    except BatchInterrupted as interrupted:
        gone = removed + interrupted.deleted.get(target, 0)
        raise BatchInterrupted({target: gone}, interrupted.cause) from interrupted
    except Exception as error:
        if removed:
            raise BatchInterrupted({target: removed}, error) from error
        raise
    appearing = TransientTargetError(f"{target}: {what} kept appearing as they were deleted")
    if removed:
        raise BatchInterrupted({target: removed}, appearing)
    raise appearing
