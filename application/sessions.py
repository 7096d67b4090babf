"""A user's session, as OpenReplay's v1 API lists it: what a deletion removes."""

import msgspec


class SessionView(msgspec.Struct, frozen=True, rename="camel"):
    project_id: int
    session_id: str
    user_uuid: str
    user_id: str
    user_agent: str
    user_os: str
    user_browser: str
    user_device: str
    user_country: str
    start_ts: int
    duration: int
    events_count: int
    pages_count: int
    errors_count: int
