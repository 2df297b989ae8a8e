from django.apps import AppConfig


class SeasonConfig(AppConfig):
    """The season's follow-through around the sync: calendar feeds of every key date."""

    name = "season"
    verbose_name = "Season"
