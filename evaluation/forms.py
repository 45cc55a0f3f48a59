from django import forms

from accounts.forms import validate_text
from submissions.forms import AnswerText
from submissions.uploads import too_large_message, upload_limit_bytes

NOTE_LIMIT = 2_000


class ReproductionForm(forms.Form):
    """A reproduction's file and a short note. The file itself is checked by the reproduction service, with the
    submissions' validator."""

    task_file = forms.FileField(
        label="Reproduction (CSV)",
        help_text="A task file you made from the description alone, in the format and metric of the submission. "
        "It is checked like a submission and evaluated on the same models.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    note = AnswerText(
        label="Note (optional)",
        required=False,
        max_length=NOTE_LIMIT,
        validators=[validate_text],
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": str(NOTE_LIMIT), "data-counter": ""}),
        help_text=f"How you made it from the description. Organizers and the other reviewers read it; the "
        f"authors never do. At most {NOTE_LIMIT:,} characters.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The browser refuses a larger file before sending it (static/site/upload.js).
        self.fields["task_file"].widget.attrs["data-max-bytes"] = upload_limit_bytes()

    def clean_task_file(self):
        upload = self.cleaned_data.get("task_file")
        if upload and upload.size > upload_limit_bytes():
            raise forms.ValidationError(too_large_message(upload.size))
        return upload
