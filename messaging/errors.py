"""Messaging's domain errors (the API turns each into the one error shape)."""

from datetime import datetime

from callcenter.errors import DomainError


class NotFound(DomainError):
    """Unknown, or not yours to see: a non-participant cannot tell the two apart."""

    status = 404
    code = "not_found"


class PingLimited(DomainError):
    """Over the daily limit or inside the cooldown for this receiver."""

    status = 429

    def __init__(self, message: str, *, code: str, next_allowed_at: datetime):
        super().__init__(message, code=code)
        self.next_allowed_at = next_allowed_at
