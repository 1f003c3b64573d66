from django.urls import path

from . import apis

urlpatterns = [
    path("queues/", apis.QueueReportView.as_view(), name="report-queues"),
    path("agents/", apis.AgentReportView.as_view(), name="report-agents"),
    path("intervals/", apis.IntervalReportView.as_view(), name="report-intervals"),
    path("staffing/", apis.StaffingView.as_view(), name="report-staffing"),
    path("staffing/queue/", apis.QueueStaffingView.as_view(), name="report-staffing-queue"),
    path("daily-summaries/", apis.DailySummaryView.as_view(), name="report-daily-summaries"),
]
