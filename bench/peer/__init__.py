"""The CRUD peer of issue 15: OpenReplay's four job routes written the way a team
would without event sourcing, so that the benchmarks can say what jobtrail's event
log costs against it.

Starlette + uvicorn (jobtrail's own HTTP stack), psycopg 3's async pool, one
``jobs`` table whose partial unique index keeps one active job per user, and key
and project lookups cached for 10 s as jobtrail caches them. Its code is part of
the benchmark: small, and written to be as fast as a plain implementation is,
neither tuned down nor tuned beyond what a team would ship.
"""
