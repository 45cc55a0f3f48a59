from django import forms

from submissions.models import Metric, SubmissionVersion
from submissions.services import ANSWER_FIELDS
from submissions.uploads import too_large_message, upload_limit_bytes


class SubmissionForm(forms.ModelForm):
    """The contest's submission form. The CSV itself is checked by the submission service, not here."""

    task_file = forms.FileField(
        label="Task file (CSV)",
        help_text="UTF-8 CSV with the columns of your metric. Exported from Google Sheets or Excel works "
        "(File › Download › Comma Separated Values).",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    class Meta:
        model = SubmissionVersion
        fields = ANSWER_FIELDS
        widgets = {
            "authors": forms.Textarea(attrs={"rows": 2}),
            "metric": forms.RadioSelect,
            "license": forms.Select,
            **{
                f: forms.Textarea(attrs={"rows": 4})
                for f in (
                    "description",
                    "importance",
                    "expected_inverse_scaling",
                    "data_generation",
                    "annotator_expertise",
                )
            },
        }

    def __init__(self, *args, file_required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["metric"].choices = Metric.choices  # a radio list needs no empty "------" choice
        self.fields["task_file"].required = file_required
        self.fields["task_file"].widget.attrs["data-max-bytes"] = (
            upload_limit_bytes()
        )  # checked before sending
        if not file_required:
            self.fields[
                "task_file"
            ].help_text = (
                "Leave empty to keep the current file; it is checked again against the metric you choose."
            )

    def clean_task_file(self):
        upload = self.cleaned_data.get("task_file")
        if upload and upload.size > upload_limit_bytes():
            raise forms.ValidationError(too_large_message(upload.size))
        return upload

    def answers(self) -> dict:
        return {field: self.cleaned_data[field] for field in ANSWER_FIELDS}
