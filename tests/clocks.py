from datetime import datetime, timedelta


class SteppingClock:
    """A clock the test moves by hand; each reading advances it by one millisecond."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        self.current += timedelta(milliseconds=1)
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta
