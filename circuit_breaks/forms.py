"""Forms of the circuit_breaks app."""

from django import forms

from .models import CircuitBreak


class AnswerForm(forms.Form):
    """The partner's answer to "was this roster change expected?"."""

    answer = forms.ChoiceField(
        choices=CircuitBreak.Answer.choices, widget=forms.RadioSelect, label="Was this change expected?"
    )
    comment = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Anything we should know",
        help_text="E.g. “we moved to a new SIS over the summer” or “only the high school should have changed”.",
    )
    email = forms.EmailField(required=False, label="Your email (so staff can reply)")
