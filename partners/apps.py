from django.apps import AppConfig


class PartnersConfig(AppConfig):
    """Partners, school years, memberships and invitations: the ground floor."""

    name = "partners"
    verbose_name = "Partners"
