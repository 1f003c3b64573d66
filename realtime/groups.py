"""Who may join which broadcast group. The realtime layer knows nothing about calls: the apps
that broadcast register an authorizer per group prefix (`dashboard`, `queue` for `queue.<id>`)
in their AppConfig.ready. Unknown groups are refused; `user.<id>` is joined automatically and
never by request."""

from collections.abc import Callable

Authorizer = Callable[[object, str], bool]  # (user, argument after the prefix) -> allowed
_authorizers: dict[str, Authorizer] = {}

MAX_GROUPS = 50


def register(prefix: str, authorizer: Authorizer) -> None:
    _authorizers[prefix] = authorizer


def may_join(user, group: str) -> bool:
    if not isinstance(group, str) or len(group) > 80:
        return False
    prefix, _, argument = group.partition(".")
    authorizer = _authorizers.get(prefix)
    return authorizer is not None and bool(authorizer(user, argument))
