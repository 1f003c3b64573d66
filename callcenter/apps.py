from django.apps import AppConfig


class CallcenterConfig(AppConfig):
    name = "callcenter"
    verbose_name = "Call center"

    def ready(self):
        from realtime.signals import client_heartbeat

        from . import realtime_groups

        realtime_groups.register()
        client_heartbeat.connect(_on_heartbeat, dispatch_uid="callcenter.presence")


def _on_heartbeat(sender, user_id: int, **kwargs) -> None:
    from .services import agent_heartbeat

    agent_heartbeat(user_id=user_id)
