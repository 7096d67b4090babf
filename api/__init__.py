"""The Starlette app, its routes, auth, errors and OpenAPI document, and the CLI."""
