"""REST API of the dashboards: the supervisor snapshot (DESIGN.md §5). Thin: one selector."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.choices import AgentActivity, AgentStatus, CallStage
from callcenter.rest import HasRole

from .selectors import dashboard_snapshot

DEFINITIONS = """
The supervisor dashboard's snapshot; a client resyncs from it on (re)connect and computes
time in state from `now`.

Who sees what: admins every queue and agent; supervisors their queues (supervised or member
of) and those queues' members; agents their own queues and only themselves, without the
waiting list (`waiting_calls` is null). No caller numbers: `GET calls/{id}/` shows them to
those allowed.

Per queue:
- `waiting`: callers in stage `waiting` now; `longest_wait_seconds` and `oldest_enqueued_at`
  describe the one who entered the queue first. Callers whose offer is ringing an agent are
  not waiting (they count under the agent's `offered`). `voicemails_waiting` and
  `callbacks_waiting`: messages and callback requests the queue's callers left that wait for an
  agent (offered or taken ones do not count).
- `agents`: the queue's members in exclusive buckets. Activity beats status: `offered` (a call
  ringing them), `on_call`, `wrap_up`; idle agents are `available`, `away` or `offline` by
  status.
- `today` (since midnight in the queue's `time_zone`, `today_started_at`) and
  `last_30_minutes`: the calls that arrived in the window (`created_at`) and entered this
  queue. A call counts once, in the last queue it entered; a call that arrived before the
  window is not in it, even when answered or abandoned inside it.
  - `offered`: all of them, still waiting or connected included;
  - `answered`: an agent connected (`answered_at` set), ended or not;
  - `abandoned`: the caller hung up while waiting, after the queue's short-abandon threshold
    (outcome `abandoned`); `short_abandoned`: within it (outcome `short_abandoned`);
    voicemail, callback and failed calls are in neither;
  - `answered_within_service_level`: answered with `answered_at - enqueued_at` at most the
    queue's `service_level_seconds`;
  - `service_level` = answered within ÷ (answered + abandoned), 0 to 1; short abandons are left
    out; null with neither;
  - `avg_wait_seconds`: mean of `answered_at - enqueued_at` over the answered; null if none.

Per agent: `status` (chosen) and `activity` (system) with the time each last changed and the
seconds since; `current_call`: the newest customer call they are offered or connected to (a
not-ended call of theirs or the call their leg serves), else null; `calls_answered_today` in
the call center's time zone.

`waiting_calls`: every visible queue's waiting callers in service order (priority, then time
waited), at most 200; `position` is the place in their own queue (1 is next).
"""


class DashboardWindowOutput(serializers.Serializer):
    offered = serializers.IntegerField()
    answered = serializers.IntegerField()
    answered_within_service_level = serializers.IntegerField()
    abandoned = serializers.IntegerField()
    short_abandoned = serializers.IntegerField()
    service_level = serializers.FloatField(allow_null=True, help_text="0 to 1")
    avg_wait_seconds = serializers.FloatField(allow_null=True)


class DashboardAgentBucketsOutput(serializers.Serializer):
    available = serializers.IntegerField()
    offered = serializers.IntegerField()
    on_call = serializers.IntegerField()
    wrap_up = serializers.IntegerField()
    away = serializers.IntegerField()
    offline = serializers.IntegerField()


class DashboardQueueOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_active = serializers.BooleanField()
    time_zone = serializers.CharField()
    service_level_seconds = serializers.IntegerField()
    short_abandon_seconds = serializers.IntegerField()
    today_started_at = serializers.DateTimeField()
    waiting = serializers.IntegerField()
    voicemails_waiting = serializers.IntegerField()
    callbacks_waiting = serializers.IntegerField()
    longest_wait_seconds = serializers.IntegerField()
    oldest_enqueued_at = serializers.DateTimeField(allow_null=True)
    agents = DashboardAgentBucketsOutput()
    today = DashboardWindowOutput()
    last_30_minutes = DashboardWindowOutput()


class DashboardCurrentCallOutput(serializers.Serializer):
    id = serializers.IntegerField()
    queue = serializers.IntegerField(allow_null=True)
    stage = serializers.ChoiceField(choices=CallStage.choices)
    answered_at = serializers.DateTimeField(allow_null=True)


class DashboardAgentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    username = serializers.CharField()
    status = serializers.ChoiceField(choices=AgentStatus.choices)
    away_reason = serializers.CharField(allow_blank=True)
    status_changed_at = serializers.DateTimeField(allow_null=True)
    status_seconds = serializers.IntegerField(allow_null=True)
    activity = serializers.ChoiceField(choices=AgentActivity.choices)
    activity_changed_at = serializers.DateTimeField(allow_null=True)
    activity_seconds = serializers.IntegerField(allow_null=True)
    active_calls = serializers.IntegerField()
    max_concurrent_calls = serializers.IntegerField()
    calls_answered_today = serializers.IntegerField()
    current_call = DashboardCurrentCallOutput(allow_null=True)


class DashboardWaitingCallOutput(serializers.Serializer):
    id = serializers.IntegerField()
    queue = serializers.IntegerField()
    priority = serializers.IntegerField()
    enqueued_at = serializers.DateTimeField()
    position = serializers.IntegerField()
    wait_seconds = serializers.IntegerField()


class DashboardOutput(serializers.Serializer):
    now = serializers.DateTimeField()
    queues = DashboardQueueOutput(many=True)
    agents = DashboardAgentOutput(many=True)
    waiting_calls = DashboardWaitingCallOutput(many=True, allow_null=True)


class DashboardView(APIView):
    """The supervisor dashboard snapshot."""

    permission_classes = [IsAuthenticated, HasRole]

    @extend_schema(responses=DashboardOutput, description=DEFINITIONS.strip())
    def get(self, request):
        # The selector's dict is already JSON-shaped (UTC datetimes render as "…Z"); running it
        # through DashboardOutput would cost more than the queries at a few thousand agents.
        # tests/dashboards pin that the two agree.
        return Response(dashboard_snapshot(request.user))
