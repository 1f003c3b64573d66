from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Routing (the automatic call distributor)"

    def ready(self):
        from callcenter.signals import agent_became_routable

        agent_became_routable.connect(_route_now, dispatch_uid="routing.agent_became_routable")


def _route_now(sender, agent_id: int, **kwargs) -> None:
    """An agent freed up: offer waiting calls now, once the change is committed."""
    from django.db import transaction

    from .tasks import routing_run_task

    transaction.on_commit(routing_run_task.delay, robust=True)
