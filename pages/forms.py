from django import forms

from accounts.forms import validate_one_line, validate_text
from accounts.models import Role, Team
from contest.text import describe_forbidden
from submissions.models import ANYWHERE_ON_EARTH, Round
from submissions.services import ROUND_FIELDS

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

MAX_SECTION_CHARACTERS = 50_000


class ContestTextForm(forms.Form):
    body = forms.CharField(
        label="Text (Markdown)",
        required=False,
        max_length=MAX_SECTION_CHARACTERS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 20, "class": "font-monospace", "data-counter": ""}),
        help_text="Markdown: **bold**, *italic*, [links](https://example.org), lists, tables. HTML is shown as "
        f"text. Leave it empty to show the 2022 contest's text again. At most {MAX_SECTION_CHARACTERS:,} "
        "characters.",
    )

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].replace("\r\n", "\n")
        problem = describe_forbidden(body)
        if problem:
            raise forms.ValidationError(f"The text {problem}; remove it.")
        return body


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail address")
    role = forms.ChoiceField(
        choices=[(Role.REVIEWER.value, "Reviewer"), (Role.ORGANIZER.value, "Organizer")], initial="reviewer"
    )


class RoundForm(forms.Form):
    """A round's name and its days, each Anywhere on Earth (UTC−12)."""

    name = forms.CharField(max_length=100, validators=[validate_one_line])
    opens = forms.DateField(
        label="Opens", widget=DATE, help_text="Submissions open at the start of this day, Anywhere on Earth."
    )
    deadline = forms.DateField(
        label="Submission deadline", widget=DATE, help_text="Last day for submissions, Anywhere on Earth."
    )
    review_deadline = forms.DateField(
        required=False, widget=DATE, help_text="Last day for reviews, Anywhere on Earth."
    )
    feedback_date = forms.DateField(
        required=False,
        widget=DATE,
        help_text="When feedback and private-model results are returned (shown on the contest page).",
    )
    max_submissions_per_team = forms.IntegerField(
        label="Submissions per team",
        required=False,
        min_value=1,
        help_text="At most this many submissions per team in the round; empty for no limit.",
    )

    @classmethod
    def of(cls, round: Round, data=None) -> "RoundForm":
        opens = round.opens_at.astimezone(ANYWHERE_ON_EARTH).date()
        initial = {"opens": opens, **{name: getattr(round, name) for name in ROUND_FIELDS}}
        return cls(data, initial=initial, prefix="round")


class KeepRequestForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.none())
    keep_at_most = forms.IntegerField(label="Keep at most", min_value=1, initial=1)
    note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown to the team, e.g. why the organizers ask.",
        validators=[validate_text],
    )

    def __init__(self, *args, round: Round, **kwargs):
        super().__init__(*args, prefix="keep", **kwargs)
        self.fields["team"].queryset = Team.objects.filter(submissions__round=round).distinct()
