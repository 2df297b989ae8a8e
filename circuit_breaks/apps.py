from django.apps import AppConfig


class CircuitBreaksConfig(AppConfig):
    """Circuit-break policy, holds and their review."""

    name = "circuit_breaks"
    verbose_name = "Circuit breaks"
