from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    # The Master's start page is the agent dashboard (the admin asks for a login first).
    path("", RedirectView.as_view(pattern_name="agentdash:dashboard", permanent=False), name="home"),
    path("health", views.health, name="health"),
    path("stats", views.stats, name="stats"),
    path("admin/agent/", include("agentsite.admin_views")),  # the agent dashboard (before admin/)
    path("admin/", admin.site.urls),
    path("api/", include("agentsite.api.urls")),
    path("telegram/", include("telegrambot.urls")),
]
