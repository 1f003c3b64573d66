"""Roles are Django groups: agent, supervisor, admin (created by a data migration)."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models


class Role(models.TextChoices):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


def roles_of(user: AbstractBaseUser | AnonymousUser) -> frozenset[str]:
    """The user's roles, read once per request object (groups are cached on the user)."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_switchboard_roles", None)
    if cached is None:
        names = set(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        if user.is_superuser:
            names.add(Role.ADMIN)
        cached = frozenset(names)
        user._switchboard_roles = cached
    return cached


def is_admin(user) -> bool:
    return Role.ADMIN in roles_of(user)


def is_supervisor(user) -> bool:
    return Role.SUPERVISOR in roles_of(user)
