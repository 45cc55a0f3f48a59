from django import forms


class DeclareConflictForm(forms.Form):
    name = forms.CharField(
        label="Team or contestant",
        max_length=254,
        help_text="A team's name, or a contestant's username or e-mail address, exactly as they use it.",
    )
    reason = forms.CharField(
        label="Why (optional)",
        max_length=300,
        required=False,
        help_text="E.g. co-author in the last three years, same lab, advisor or student. Only organizers read it.",
    )
