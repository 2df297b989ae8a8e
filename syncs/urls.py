"""Partner pages of the syncs app. Every URL takes ``slug`` and answers 404 outside the partner."""

from django.urls import path

from . import views

app_name = "syncs"

urlpatterns = [
    path("<slug:slug>/timeline/", views.timeline, name="timeline"),
    path("<slug:slug>/rollover-complete/", views.rollover_complete, name="rollover_complete"),
    path("<slug:slug>/sync/", views.sync_runs, name="runs"),
    path("<slug:slug>/sync/runs/<int:run_id>/", views.sync_run, name="run"),
    path("<slug:slug>/sync/runs/<int:run_id>/package/", views.run_package, name="run_package"),
    path("<slug:slug>/roster/", views.roster, name="roster"),
]
