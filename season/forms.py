"""Forms of the season app."""

from django import forms

from partners.models import Partner

from .models import DataReviewAnswer
from .services import CHECKS, data_review_problems


class DataReviewForm(forms.Form):
    """The data review sign-off: three checks, "all good" or "something is off" with details.
    ``replaces`` carries the id of the answer the person saw (blank for none)."""

    rosters_ok = forms.BooleanField(required=False, label="Rosters look correct (students, teachers and classes)")
    schools_ok = forms.BooleanField(required=False, label="The right schools are visible")
    grades_ok = forms.BooleanField(required=False, label="The right grades are visible")
    answer = forms.ChoiceField(
        choices=DataReviewAnswer.Answer.choices,
        widget=forms.RadioSelect,
        label="Your answer",
    )
    details = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        label="What is off?",
        help_text="Which schools, grades, classes or people, and what you expected to see.",
    )
    replaces = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_replaces(self) -> int | None:
        """The id of the answer the page showed; a value that is not one (a tampered or broken page)
        becomes ``-1``, which matches no answer, so the service asks for a fresh page."""
        value = self.cleaned_data["replaces"].strip()
        if not value:
            return None
        return int(value) if value.isascii() and value.isdigit() and len(value) < 12 else -1

    def clean(self):
        data = super().clean()
        if "answer" in data:  # (an unknown answer is the choice field's own error)
            problems = data_review_problems(
                answer=data["answer"], checks={name: data.get(name) for name in CHECKS}, details=data.get("details", "")
            )
            for name, message in problems.items():
                self.add_error(name, message)
        return data


class ReadinessFilterForm(forms.Form):
    """The readiness dashboard's filters (GET): partner success manager, SIS, integration type.
    Each blank means "all"; ``manager`` ``none`` means partners without one."""

    manager = forms.TypedChoiceField(required=False, label="Partner success manager", coerce=str)
    sis = forms.ChoiceField(required=False, label="SIS", choices=[("", "All")] + Partner.Sis.choices)
    integration = forms.ChoiceField(
        required=False,
        label="Integration",
        choices=[("", "All"), *((value, label.split(" (")[0]) for value, label in Partner.IntegrationType.choices)],
    )

    def __init__(self, *args, managers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["manager"].choices = [
            ("", "All"),
            ("none", "No manager"),
            *(
                (str(u.pk), f"{u.get_full_name()} ({u.username})" if u.get_full_name() else u.username)
                for u in managers
            ),
        ]

    @classmethod
    def from_query(cls, query, *, managers) -> tuple["ReadinessFilterForm", list[str]]:
        """The form of a request's GET parameters, keeping only the filters it understands, and
        the ones it dropped in words ("SIS: Select a valid choice. …")."""
        filters = {name: query[name] for name in cls.base_fields if query.get(name)}
        form = cls(filters or None, managers=managers)
        if not form.is_bound or form.is_valid():
            return form, []
        ignored = [f"{form.fields[name].label}: {' '.join(map(str, errors))}" for name, errors in form.errors.items()]
        kept = {name: value for name, value in filters.items() if name not in form.errors}
        return cls(kept or None, managers=managers), ignored

    def partner_filters(self) -> dict[str, bool | int | str]:
        """Partner queryset lookups of the valid filters (``{}`` for none)."""
        data = self.cleaned_data if self.is_valid() else {}
        lookups: dict[str, bool | int | str] = {}
        if data.get("manager") == "none":
            lookups["success_manager__isnull"] = True
        elif data.get("manager"):
            lookups["success_manager_id"] = int(data["manager"])
        if data.get("sis"):
            lookups["sis"] = data["sis"]
        if data.get("integration"):
            lookups["integration_type"] = data["integration"]
        return lookups

    def admin_query(self) -> dict:
        """The same filters as admin changelist parameters."""
        names = {
            "success_manager__isnull": "success_manager__isnull",
            "success_manager_id": "success_manager__id__exact",
            "sis": "sis__exact",
            "integration_type": "integration_type__exact",
        }
        return {names[k]: ("True" if v is True else v) for k, v in self.partner_filters().items()}
