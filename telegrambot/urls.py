from django.urls import path

from . import views

app_name = "telegrambot"

urlpatterns = [
    path("webhook/", views.webhook, name="webhook"),
]
