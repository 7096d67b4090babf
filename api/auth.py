"""Who is asking, and may they reach this project."""

from starlette.requests import Request

from api.errors import ApiError
from application.tenancy import Tenancy
from application.tenants import Principal, Project


def authorize(request: Request, remembered_only: bool = False) -> tuple[Principal, Project]:
    """``remembered_only``: from memory or not at all (``WouldWait``), on the loop."""
    tenancy: Tenancy = request.app.state.services.tenancy
    principal = tenancy.authenticate(request.headers.get("authorization"), remembered_only)
    if principal is None:
        raise ApiError(401, "Invalid API Key")
    project = tenancy.project_for(principal, request.path_params["projectKey"], remembered_only)
    if project is None:
        # A project of another organization is reported exactly like a missing one.
        raise ApiError(404, "Project not found.")
    request.state.key_id = principal.key_id
    return principal, project
