from allauth.account import forms as allauth_forms
from django import forms
from django.core.exceptions import ValidationError

from contest.text import FORBIDDEN_IN_LINE, FORBIDDEN_IN_TEXT, describe_forbidden


def validate_one_line(value: str) -> None:
    """A name is one line of text: it becomes a page title and an e-mail subject, where a line break breaks."""
    problem = describe_forbidden(value, FORBIDDEN_IN_LINE)
    if problem:
        raise ValidationError(f"This must be a single line, but it {problem}.", code="not_one_line")


def validate_text(value: str) -> None:
    """Free text may have line breaks and tabs, not the other control characters."""
    problem = describe_forbidden(value, FORBIDDEN_IN_TEXT)
    if problem:
        raise ValidationError(f"This text {problem}; remove it.", code="control_character")


class JoinTeamForm(forms.Form):
    invite_code = forms.CharField(
        label="Invite code",
        max_length=32,
        help_text="Ask a member of the team you want to join for its code.",
    )


class RenameTeamForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=120, validators=[validate_one_line])


class LoginForm(allauth_forms.LoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Username or email"
