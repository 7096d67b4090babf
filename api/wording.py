"""How the command line counts things in its sentences."""


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``1 key``, ``0 keys``, ``2 data keys``."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"
