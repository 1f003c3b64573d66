"""Which dashboard groups of the realtime layer a user may join (registered in apps.ready)."""

from realtime import groups

from .roles import is_admin, is_supervisor
from .selectors import queues_visible_to


def _dashboard(user, argument: str) -> bool:
    # Every agent's state: supervisors staff queues from it, admins see all.
    return argument == "" and (is_admin(user) or is_supervisor(user))


def _queue(user, argument: str) -> bool:
    # A queue's calls and counts: its supervisors, its members, admins.
    return argument.isdigit() and queues_visible_to(user).filter(pk=int(argument)).exists()


def register() -> None:
    groups.register("dashboard", _dashboard)
    groups.register("queue", _queue)
