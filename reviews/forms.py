from django import forms

from contest import rubric
from evaluation.suggestions import Suggestion
from reviews.models import Tier
from reviews.services import ReviewAnswers

COMMENT_LIMIT = 5_000
LONG_COMMENT_LIMIT = 20_000


class ReviewForm(forms.Form):
    """The rubric form: a level and a comment per criterion of the review's rubric version, two comments, a tier.
    Every field may be empty in a draft; submitting asks for the levels and the tier (reviews.services)."""

    comment_for_authors = forms.CharField(
        label="Comment for the authors",
        required=False,
        max_length=LONG_COMMENT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Returned to the contestants with the feedback. Your name never is.",
    )
    confidential_comment = forms.CharField(
        label="Confidential comment for the organizers",
        required=False,
        max_length=LONG_COMMENT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Only organizers read it; neither the authors nor the other reviewers do.",
    )
    suggested_tier = forms.ChoiceField(
        label="Suggested tier", required=False, choices=Tier.choices, widget=forms.RadioSelect
    )

    def __init__(self, *args, criteria: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        # Criterion key → the level the evaluation suggests (evaluation.suggestions), shown beside the criterion
        # and never chosen for the reviewer; the view sets them from the evidence it shows.
        self.suggestions: dict[str, Suggestion] = {}
        for criterion in criteria:
            key = criterion["key"]
            self.fields[f"level_{key}"] = forms.ChoiceField(
                label=criterion["name"],
                required=False,
                choices=[(level, rubric.LEVEL_NAMES[level]) for level in rubric.LEVELS],
                widget=forms.RadioSelect,
            )
            self.fields[f"comment_{key}"] = forms.CharField(
                label=f"Comment on {criterion['name']}",
                required=False,
                max_length=COMMENT_LIMIT,
                widget=forms.Textarea(attrs={"rows": 2}),
            )

    @staticmethod
    def initial_from(review) -> dict:
        if review is None:
            return {}
        initial = {
            "comment_for_authors": review.comment_for_authors,
            "confidential_comment": review.confidential_comment,
            "suggested_tier": review.suggested_tier,
        }
        initial |= {f"level_{k}": v for k, v in review.levels.items()}
        initial |= {f"comment_{k}": v for k, v in review.criterion_comments.items()}
        return initial

    def rubric_rows(self) -> list[dict]:
        """Per criterion: its wording, its level field with each level's description, its comment field, and
        the level the evaluation suggests for it (None for the criteria the evaluation does not speak to)."""
        return [
            {
                "criterion": c,
                "level": self[f"level_{c['key']}"],
                "choices": [
                    {"choice": choice, "description": c["levels"][choice.data["value"]]}
                    for choice in self[f"level_{c['key']}"]
                ],
                "comment": self[f"comment_{c['key']}"],
                "suggestion": self.suggestions.get(c["key"]),
            }
            for c in self.criteria
        ]

    def answers(self) -> ReviewAnswers:
        data = self.cleaned_data
        keys = [c["key"] for c in self.criteria]
        return ReviewAnswers(
            levels={k: data[f"level_{k}"] for k in keys if data.get(f"level_{k}")},
            criterion_comments={k: data[f"comment_{k}"] for k in keys if data.get(f"comment_{k}")},
            comment_for_authors=data["comment_for_authors"],
            confidential_comment=data["confidential_comment"],
            suggested_tier=data["suggested_tier"],
        )


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
