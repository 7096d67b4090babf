"""The Job aggregate, its events, rules and errors. Pure: no web, no SQL, no I/O."""
