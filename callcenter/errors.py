"""Domain errors raised by services; the API turns them into its one error shape."""


class DomainError(Exception):
    """A request the domain refuses; `status` is the HTTP status the API answers with."""

    status = 409
    code = "conflict"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidInput(DomainError):
    status = 400
    code = "invalid"


class TransitionNotAllowed(DomainError):
    status = 409
    code = "transition_not_allowed"
