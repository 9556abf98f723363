from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("health", views.health, name="health"),
    path("stats", views.stats, name="stats"),
    path("admin/agent/", include("agentsite.admin_views")),  # the agent dashboard (before admin/)
    path("admin/", admin.site.urls),
    path("api/", include("agentsite.api.urls")),
    path("telegram/", include("telegrambot.urls")),
]
