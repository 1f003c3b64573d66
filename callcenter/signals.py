"""Signals of the core domain, for the apps above it (callcenter must not import them)."""

from django.dispatch import Signal

# An agent can take a call now (available and idle); kwargs: agent_id. Routing offers waiting
# calls at once instead of at its next sweep.
agent_became_routable = Signal()
