"""Partner portal pages. Every URL here takes ``slug`` and answers 404 to users outside the partner."""

from django.urls import path

from . import views

app_name = "partners"

urlpatterns = [
    path("<slug:slug>/", views.partner_home, name="home"),
]
