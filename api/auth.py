"""Who is asking, and may they reach this project."""

from starlette.requests import Request

from api.errors import ApiError
from application.tenancy import Tenancy
from application.tenants import Principal, Project


async def authorize(request: Request) -> tuple[Principal, Project]:
    tenancy: Tenancy = request.app.state.services.tenancy
    principal = await tenancy.authenticate(request.headers.get("authorization"))
    if principal is None:
        raise ApiError(401, "Invalid API Key")
    project = await tenancy.project_for(principal, request.path_params["projectKey"])
    if project is None:
        # A project of another organization is reported exactly like a missing one.
        raise ApiError(404, "Project not found.")
    request.state.key_id = principal.key_id
    return principal, project
