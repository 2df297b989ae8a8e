"""URLs of the season app."""

from django.urls import path

from . import views

app_name = "season"

urlpatterns = [
    path("calendar/<str:token>.ics", views.feed, name="feed"),
    path("p/<slug:slug>/calendar/", views.partner_feed, name="partner_feed"),
    path("staff/calendar/", views.staff_feed, name="staff_feed"),
    path("p/<slug:slug>/data-review/", views.data_review, name="data_review"),
    path("staff/readiness/", views.readiness, name="readiness"),
]
