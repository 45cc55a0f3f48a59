from django import forms
from django.core.validators import MaxLengthValidator

from accounts.forms import validate_one_line, validate_text
from submissions.models import Metric, SubmissionVersion
from submissions.services import ANSWER_FIELDS
from submissions.uploads import too_large_message, upload_limit_bytes

LONG_ANSWERS = (
    "description",
    "importance",
    "expected_inverse_scaling",
    "data_generation",
    "annotator_expertise",
)
# The rules' optional questions: long answers too, which a contestant may leave empty.
OPTIONAL_QUESTIONS = ("few_shot", "fine_tuning", "rlhf")
# Generous for a contestant (the 2022 submissions' answers were at most a few thousand characters), small
# enough that every page listing submissions stays fast. The README states them too.
ANSWER_LIMITS = {
    "task_name": 200,
    "authors": 2_000,
    **dict.fromkeys((*LONG_ANSWERS, *OPTIONAL_QUESTIONS), 20_000),
}


class AnswerText(forms.CharField):
    """Typed text with its line breaks as browsers count them (one character), though they send two (CR LF)."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n") if value else value


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
            **{f: forms.Textarea(attrs={"rows": 4}) for f in LONG_ANSWERS},
            **{f: forms.Textarea(attrs={"rows": 3}) for f in OPTIONAL_QUESTIONS},
        }
        field_classes = {f: AnswerText for f in ("authors", *LONG_ANSWERS, *OPTIONAL_QUESTIONS)}

    def __init__(self, *args, file_required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["metric"].choices = Metric.choices  # a radio list needs no empty "------" choice
        for name, limit in ANSWER_LIMITS.items():
            field = self.fields[name]
            field.validators += [
                validate_one_line if name == "task_name" else validate_text,
                MaxLengthValidator(
                    limit,
                    message=f"This has %(show_value)s characters; the limit is {limit:,}. Shorten it "
                    "(a link to a longer document is fine).",
                ),
            ]
            field.max_length = limit
            # site.js shows a live count beside every field with data-counter; maxlength stops typing at the limit.
            field.widget.attrs.update({"maxlength": str(limit), "data-counter": ""})
            field.help_text = " ".join(filter(None, [str(field.help_text), f"At most {limit:,} characters."]))
        self.fields["subcategory_column"].validators.append(validate_one_line)  # a column name: one line
        self.fields["task_file"].required = file_required
        # The browser refuses a larger file before sending it (static/site/upload.js).
        self.fields["task_file"].widget.attrs["data-max-bytes"] = upload_limit_bytes()
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


class WithdrawalForm(forms.Form):
    reason = AnswerText(
        label="Reason (optional)",
        required=False,
        max_length=2_000,
        validators=[validate_text],
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": "2000"}),
        help_text="Shown to your team and the organizers.",
    )
