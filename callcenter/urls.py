from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from analytics import pages as analytics_pages
from dashboards import pages as dashboard_pages
from realtime.longpoll import events as events_longpoll

from . import apis, health, pages
from .apis_call_control import SoftphoneTokenView
from .rest import api_not_found

router = DefaultRouter()
router.register("agents", apis.AgentViewSet, basename="agent")
router.register("queues", apis.QueueViewSet, basename="queue")
router.register("calls", apis.CallViewSet, basename="call")

api_v1 = [
    path("", include(router.urls)),
    path("events/", events_longpoll, name="events-longpoll"),
    path("softphone/token/", SoftphoneTokenView.as_view(), name="softphone-token"),
    path("softphone/simulated/", include("callcenter.apis_call_control")),
    path("dashboard/", include("dashboards.urls")),
    path("reports/", include("analytics.urls")),
    path("", include("messaging.urls")),
    path("offers/", include("routing.apis")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    re_path(r"^.*$", api_not_found),
]

urlpatterns = [
    path("", pages.home, name="home"),
    path("agent/", dashboard_pages.agent, name="agent-dashboard"),
    path("supervisor/", dashboard_pages.supervisor, name="supervisor-dashboard"),
    path("reports/", analytics_pages.reports, name="reports"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("webhooks/twilio/voice/", include("webhooks.urls")),
]

if settings.SILK_ENABLED:
    urlpatterns.append(path("silk/", include("silk.urls", namespace="silk")))
