"""Public pages of the circuit_breaks app (reached from an email; the signed token is the key)."""

from django.urls import path

from . import views

app_name = "circuit_breaks"

urlpatterns = [
    path("<str:token>/", views.answer, name="answer"),
]
