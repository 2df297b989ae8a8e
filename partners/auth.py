"""Sign-in by username or email address, ignoring case (partner usernames are their email)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Case, IntegerField, Q, Value, When


class EmailOrUsernameBackend(ModelBackend):
    """Django's model backend, matching the login against username or email, case-insensitively.

    When several accounts match, an exact username wins, then a case-insensitive username, then
    an email; the password must still be right for that account.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        login = username.strip()
        User = get_user_model()
        user = (
            User._default_manager.filter(Q(username__iexact=login) | Q(email__iexact=login))
            .annotate(
                rank=Case(
                    When(username=login, then=Value(0)),
                    When(username__iexact=login, then=Value(1)),
                    default=Value(2),
                    output_field=IntegerField(),
                )
            )
            .order_by("rank", "pk")
            .first()
        )
        if user is None:
            User().set_password(password)  # same work as a real check, against timing probes
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


class PortalAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, labelled for people who sign in with their email address."""

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "Email or username"
        self.fields["username"].widget.attrs["autocomplete"] = "username"
        self.error_messages["invalid_login"] = (
            "That email or username and password do not match an account. The password is case-sensitive."
        )
