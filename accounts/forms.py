from django import forms


class JoinTeamForm(forms.Form):
    invite_code = forms.CharField(
        label="Invite code",
        max_length=32,
        help_text="Ask a member of the team you want to join for its code.",
    )


class RenameTeamForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=120)
