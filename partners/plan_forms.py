"""The BTS planning form: one ModelForm, shown in six sections, checked by the calendar rules.

Rules: ``lib.season_calendar.check_season_dates`` (issue #4). Saving a draft validates only what is
filled; submitting also requires every answer the partner's integration and SIS call for.
"""

from datetime import date

from django import forms

from lib import season_calendar

from .models import PLAN_SECTIONS, Partner, Plan

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

# check_season_dates field → plan field a person must change
PROBLEM_FIELDS = {
    "pause_start": "custom_pause_start",
    "resume_date": "custom_resume_date",
    "first_day": "first_day_of_school",
    "do_not_pause": "pause_choice",
    "rollover_finish": "ic_rollover_finish",
}

SECTIONS = PLAN_SECTIONS


# Always needed to submit (marked * on the form); more depend on the partner's answers and SIS.
REQUIRED_TO_SUBMIT = {
    "primary_contact_name",
    "primary_contact_email",
    "roster_contact_name",
    "roster_contact_email",
    "roster_contact_phone",
    "first_day_of_school",
    "schools_and_grades",
    "sis_data_checked_ack",
    "pause_choice",
    "summer_school_files",
    "powerschool_sections_ack",
    "powerschool_72h_ack",
    "ic_rollover_start",
    "ic_rollover_finish",
    "ic_no_config_change_ack",
}


class ClosureDatesField(forms.CharField):
    """One ISO date (YYYY-MM-DD) per line → a sorted list of unique ``date``; errors name the line."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        days, errors = set(), []
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            try:
                days.add(date.fromisoformat(line))
            except ValueError:
                errors.append(f"Line {number}: “{line}” is not a date; write it as YYYY-MM-DD, e.g. 2026-11-27.")
        if errors:
            raise forms.ValidationError(errors)
        return sorted(days)


class PlanForm(forms.ModelForm):
    """The planning form of ``partner`` for ``school_year``. ``submitting`` selects the full check.

    After ``is_valid()``, ``self.warnings`` lists the warnings (plain messages) the partner may accept.
    """

    closure_dates = ClosureDatesField(
        required=False, label="District closure dates", help_text="One date per line, e.g. 2026-11-27."
    )
    pause_choice = forms.ChoiceField(
        choices=Plan.PauseChoice.choices, required=False, widget=forms.RadioSelect, label="Your summer pause"
    )
    summer_school_files = forms.TypedChoiceField(
        choices=[("", "Not answered yet"), ("yes", "Yes"), ("no", "No")],
        coerce=lambda v: v == "yes",
        empty_value=None,
        required=False,
        label="Will you send summer-school files?",
    )

    class Meta:
        model = Plan
        fields = [name for _, _, names in SECTIONS for name in names]
        widgets = {
            "first_day_of_school": DATE_WIDGET,
            "last_day_current_year": DATE_WIDGET,
            "custom_pause_start": DATE_WIDGET,
            "custom_resume_date": DATE_WIDGET,
            "summer_school_start": DATE_WIDGET,
            "summer_school_end": DATE_WIDGET,
            "ic_rollover_start": DATE_WIDGET,
            "ic_rollover_finish": DATE_WIDGET,
            "schools_and_grades": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {
            "first_day_of_school": "First day of school",
            "custom_pause_start": "Custom pause start",
            "custom_resume_date": "Custom resume date",
            "summer_school_start": "Summer school: first day",
            "summer_school_end": "Summer school: last day",
            "powerschool_sections_ack": "I understand that support will switch on “Fetch Sections for the Next "
            "School Year” in the PowerSchool connector before our resume date.",
            "powerschool_72h_ack": "I understand that new-year data can take up to 72 hours after the resume "
            "date to appear.",
            "ic_no_config_change_ack": "We will make no configuration change while Infinite Campus's year "
            "rollover runs.",
            "sis_data_checked_ack": "We will check enrollment, section and teacher data in our SIS before data "
            "is shared.",
            "schools_and_grades": "Schools and grades that must be visible in the platform this year",
            "warnings_accepted": "I have read the warnings above and want to submit anyway.",
        }

    def __init__(self, *args, partner: Partner, school_year, submitting: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.partner, self.school_year, self.submitting = partner, school_year, submitting
        self.warnings: list[str] = []
        self.is_api = partner.integration_type == Partner.IntegrationType.API
        self.is_powerschool = partner.sis == Partner.Sis.POWERSCHOOL
        self.is_infinite_campus = partner.sis == Partner.Sis.INFINITE_CAMPUS
        hidden = set()
        if self.is_api:
            hidden |= {"summer_school_files", "summer_school_start", "summer_school_end"}
        else:
            hidden |= {"pause_choice", "custom_pause_start", "custom_resume_date"}
        if not self.is_powerschool:
            hidden |= {"powerschool_sections_ack", "powerschool_72h_ack"}
        if not self.is_infinite_campus:
            hidden |= {"ic_rollover_start", "ic_rollover_finish", "ic_no_config_change_ack"}
        for name in hidden:
            del self.fields[name]
        if self.instance.summer_school_files is not None and "summer_school_files" in self.fields:
            self.initial["summer_school_files"] = "yes" if self.instance.summer_school_files else "no"
        # Warnings are acknowledged anew on every save: a tick for old warnings does not cover new ones.
        self.initial["warnings_accepted"] = False
        for name in REQUIRED_TO_SUBMIT & set(self.fields):
            self.fields[name].label = f"{self.fields[name].label} *"
        if "pause_choice" in self.fields:
            start, resume = school_year.global_pause_start, school_year.global_resume_date
            pause_choice = self.fields["pause_choice"]
            assert isinstance(pause_choice, forms.ChoiceField)  # declared above
            pause_choice.choices = [
                (
                    Plan.PauseChoice.GLOBAL,
                    f"The global pause: syncs stop on {start:%A, %B} {start.day} and "
                    f"resume on {resume:%A, %B} {resume.day}, {resume.year}",
                ),
                (Plan.PauseChoice.CUSTOM, Plan.PauseChoice.CUSTOM.label),
                (Plan.PauseChoice.NONE, Plan.PauseChoice.NONE.label),
            ]

    def sections(self):
        """``[(key, title, [bound fields], done)]`` in order; ``done`` when every visible field is filled."""
        result = []
        for key, title, names in SECTIONS:
            fields = [self[name] for name in names if name in self.fields and name != "warnings_accepted"]
            if key == "notes" and "warnings_accepted" in self.fields:
                fields.append(self["warnings_accepted"])
            required = [f for f in fields if f.name not in self._optional]
            done = (
                all(self._filled(f.name) for f in required) if required else any(self._filled(f.name) for f in fields)
            )
            result.append((key, title, fields, done))
        return result

    _optional = {
        "primary_contact_phone",
        "last_day_current_year",
        "closure_dates",
        "notes",
        "warnings_accepted",
        "custom_pause_start",
        "custom_resume_date",
        "summer_school_start",
        "summer_school_end",
    }

    def _filled(self, name) -> bool:
        value = self[name].value()
        return value not in (None, "", [], False)

    def clean(self):
        cleaned = super().clean()
        if self.is_api:
            choice = cleaned.get("pause_choice")
            if choice != Plan.PauseChoice.CUSTOM:
                # Dates typed before switching to another choice are not part of the plan.
                cleaned["custom_pause_start"] = cleaned["custom_resume_date"] = None
        if self.submitting:
            self._require(cleaned)
        self._check_pairs(cleaned)
        self._check_calendar(cleaned)
        if self.warnings and self.submitting and not cleaned.get("warnings_accepted"):
            self.add_error("warnings_accepted", "Read the warnings above and tick this box to submit anyway.")
        if cleaned.get("closure_dates"):
            cleaned["closure_dates"] = [day.isoformat() for day in cleaned["closure_dates"]]  # stored as JSON
        return cleaned

    def _require(self, cleaned):
        # The always-needed answers of this partner's form (the SIS ones are only on its form) ...
        required = [name for name in self.fields if name in REQUIRED_TO_SUBMIT and name != "summer_school_files"]
        # ... and those that depend on other answers.
        if self.is_api and cleaned.get("pause_choice") == Plan.PauseChoice.CUSTOM:
            required += ["custom_pause_start", "custom_resume_date"]
        if not self.is_api:
            if cleaned.get("summer_school_files") is None:
                self.add_error("summer_school_files", "Answer yes or no.")
            elif cleaned.get("summer_school_files"):
                required += ["summer_school_start", "summer_school_end"]
        for name in required:
            if name in self.errors:
                continue
            if cleaned.get(name) in (None, "", False, []):
                message = (
                    "Tick this box to submit."
                    if isinstance(self.fields[name], forms.BooleanField)
                    else ("Fill this in to submit (you can save a draft without it).")
                )
                self.add_error(name, message)

    def _check_pairs(self, cleaned):
        pairs = [
            ("summer_school_start", "summer_school_end", "summer school"),
            ("ic_rollover_start", "ic_rollover_finish", "Infinite Campus rollover"),
        ]
        year = self.school_year.first_calendar_year
        for name in ("summer_school_start", "summer_school_end", "ic_rollover_start", "ic_rollover_finish"):
            value = cleaned.get(name)
            if value and value.year != year and name in self.fields:
                self.add_error(
                    name, f"Give a date in {year}, the summer before {self.school_year.label}, not {value:%Y-%m-%d}."
                )
                cleaned[name] = None
        for first, last, what in pairs:
            start, end = cleaned.get(first), cleaned.get(last)
            if start and end and end < start:
                self.add_error(last, f"The {what} cannot end ({end:%Y-%m-%d}) before it starts ({start:%Y-%m-%d}).")
        last_day, first_day = cleaned.get("last_day_current_year"), cleaned.get("first_day_of_school")
        if last_day and first_day and last_day >= first_day:
            self.add_error(
                "last_day_current_year",
                f"The last day of the current year ({last_day:%Y-%m-%d}) must come before the first day of the new "
                f"year ({first_day:%Y-%m-%d}).",
            )

    def _check_calendar(self, cleaned):
        date_fields = (
            "first_day_of_school",
            "custom_pause_start",
            "custom_resume_date",
            "ic_rollover_finish",
            "closure_dates",
        )
        if any(name in self.errors for name in date_fields):
            return  # a date that did not parse already has its message
        year = self.school_year
        problems = season_calendar.check_season_dates(
            first_calendar_year=year.first_calendar_year,
            tz=self.partner.time_zone,
            is_api_partner=self.is_api,
            is_powerschool=self.is_powerschool,
            is_infinite_campus=self.is_infinite_campus,
            do_not_pause=cleaned.get("pause_choice") == Plan.PauseChoice.NONE,
            custom_start=cleaned.get("custom_pause_start"),
            custom_resume=cleaned.get("custom_resume_date"),
            global_start=year.global_pause_start,
            global_resume=year.global_resume_date,
            first_day=cleaned.get("first_day_of_school"),
            rollover_finish=cleaned.get("ic_rollover_finish"),
            closures=cleaned.get("closure_dates") or (),
            complete=self.submitting,
        )
        for problem in problems:
            field = PROBLEM_FIELDS.get(problem.field, problem.field)
            if problem.severity == season_calendar.Severity.ERROR:
                if field in self.fields and field not in self.errors:
                    self.add_error(field, problem.message)
                elif field not in self.fields:
                    self.add_error(None, problem.message)
            else:
                self.warnings.append(problem.message)


def plan_problems(plan: Plan) -> list[str]:
    """What stops ``plan`` (as stored) from passing the full submit check, as plain messages
    (``“field label”: what to do``, each ending in a full stop); empty when it would pass. Staff
    approval runs this first."""
    form = PlanForm(instance=plan, partner=plan.partner, school_year=plan.school_year)
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value.isoformat() if hasattr(value, "isoformat") else value
    data["warnings_accepted"] = "on" if plan.warnings_accepted or plan.warnings else ""
    check = PlanForm(
        data,
        instance=Plan(partner=plan.partner, school_year=plan.school_year),
        partner=plan.partner,
        school_year=plan.school_year,
        submitting=True,
    )
    if check.is_valid():
        return []
    problems = []
    for name, errors in check.errors.items():
        text = " ".join(map(str, errors))
        label = str(check.fields[name].label or name).removesuffix(" *") if name in check.fields else ""
        problems.append(f"“{label}”: {text}" if label else text)
    return problems
