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
    # Strictly true or false: anything else is a 400, not silently no filter.
    legs = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="_legs",
        label="false: calls only, not the legs that served them (agents', transfers')",
    )

    class Meta:
        model = Call
        fields = ["call_sid", "status", "queue", "agent", "created_after", "created_before", "legs"]

    def _legs(self, queryset, name, value):
        return queryset if value == "true" else queryset.filter(parent__isnull=True)
