from allauth.account import forms as allauth_forms
from django import forms


class JoinTeamForm(forms.Form):
    invite_code = forms.CharField(
        label="Invite code",
        max_length=32,
        help_text="Ask a member of the team you want to join for its code.",
    )


class RenameTeamForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=120)


class LoginForm(allauth_forms.LoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Username or email"
