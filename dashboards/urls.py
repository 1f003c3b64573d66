from django.urls import path

from .apis import DashboardView

urlpatterns = [
    path("", DashboardView.as_view(), name="dashboard"),
]
