"""Partner portal pages. Every URL here takes ``slug`` and answers 404 to users outside the partner."""

from django.urls import path

from . import views

app_name = "partners"

urlpatterns = [
    path("<slug:slug>/", views.partner_home, name="home"),
    path("<slug:slug>/plan/", views.plan_view, name="plan"),
    path("<slug:slug>/plan/summary/", views.plan_summary, name="plan_summary"),
]
