"""Partner pages of the syncs app. Every URL takes ``slug`` and answers 404 outside the partner."""

from django.urls import path

from . import views

app_name = "syncs"

urlpatterns = [
    path("<slug:slug>/timeline/", views.timeline, name="timeline"),
    path("<slug:slug>/rollover-complete/", views.rollover_complete, name="rollover_complete"),
]
