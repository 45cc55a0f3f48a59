from django import forms

from contest.text import describe_forbidden

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
