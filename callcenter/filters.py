"""Query-string filters of the calls API (DESIGN.md §5)."""

import django_filters

from .choices import CallStatus
from .models import Call


class CallFilter(django_filters.FilterSet):
    call_sid = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=CallStatus.choices)
    queue = django_filters.NumberFilter(field_name="queue_id", min_value=1)
    agent = django_filters.NumberFilter(field_name="agent_id", min_value=1)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Call
        fields = ["call_sid", "status", "queue", "agent", "created_after", "created_before"]
