"""Project-wide REST plumbing: pagination, the one error shape, role permissions."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, pagination, permissions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError
from .roles import roles_of


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


def error_body(status: int, code: str, message: str, details=None) -> dict:
    """The one error shape: {"error": {"status", "code", "message", "details"?}}."""
    body = {"status": status, "code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


def _message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _message(detail[0])
    if isinstance(detail, dict) and detail:
        field, value = next(iter(detail.items()))
        text = _message(value)
        return text if field in ("non_field_errors", "detail") else f"{field}: {text}"
    return str(detail)


def exception_handler(exc, context):
    """DRF's handler, then every error reshaped into error_body; DomainError included."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc.status, exc.code, exc.message), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(response.status_code, "invalid", _message(detail), detail)
    else:
        response.data = error_body(
            response.status_code, code if isinstance(code, str) else "error", _message(detail)
        )
    return response


def api_not_found(request, exception=None):
    """404 for unknown paths under /api/: the same error shape as every other API error."""
    return JsonResponse(error_body(404, "not_found", "No such API endpoint."), status=404)


class HasRole(permissions.BasePermission):
    """Signed in and holding a call-center role (agent, supervisor or admin)."""

    message = "Your account has no call-center role."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and roles_of(request.user))
