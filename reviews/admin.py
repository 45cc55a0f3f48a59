from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from accounts.models import Role
from contest import rubric
from reviews.models import Assignment, Conflict, DiscussionPost, InstitutionalDomain, Review, Rubric
from reviews.selectors import reviewers
from reviews.services import (
    add_institutional_domain,
    add_rubric_version,
    assign_reviewer,
    check_assignment,
    check_conflict,
    clean_institutional_domain,
    current_rubric,
    set_conflict,
)
from submissions.models import Submission


class SubmissionChoiceField(forms.ModelChoiceField):
    """Names a submission by its round and task, the way organizers speak of it."""

    def label_from_instance(self, submission: Submission) -> str:
        return f"{submission.round.name} — {submission} (#{submission.pk})"


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user) -> str:
        name = user.get_full_name()
        return f"{user.get_username()} ({name or user.email or 'no e-mail'})"


class AssignmentForm(forms.ModelForm):
    submission = SubmissionChoiceField(
        queryset=Submission.objects.select_related("round", "current_version").order_by("round", "pk")
    )
    reviewer = PersonChoiceField(queryset=reviewers())

    class Meta:
        model = Assignment
        fields = ["submission", "reviewer"]

    def clean(self):
        data = super().clean()
        if data.get("submission") and data.get("reviewer"):
            check_assignment(submission=data["submission"], reviewer=data["reviewer"])
        return data


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    form = AssignmentForm
    list_display = ["submission", "reviewer", "method", "assigned_by", "assigned_at"]
    list_filter = ["submission__round", "method", "reviewer"]
    search_fields = ["reviewer__username", "submission__current_version__task_name"]
    list_select_related = ["submission__current_version", "reviewer", "assigned_by"]

    def has_change_permission(self, request, obj=None):
        return False  # an assignment is made or removed, never edited into another one

    def save_model(self, request, obj, form, change):
        # The service checks who may assign and every conflict; the admin keeps no rule of its own.
        obj.pk = assign_reviewer(submission=obj.submission, reviewer=obj.reviewer, by=request.user).pk


class RubricForm(forms.ModelForm):
    class Meta:
        model = Rubric
        fields = ["criteria", "note"]

    def clean_criteria(self):
        criteria = self.cleaned_data["criteria"]
        if problems := rubric.criteria_problems(criteria):
            raise forms.ValidationError(problems)
        return criteria


@admin.register(Rubric)
class RubricAdmin(admin.ModelAdmin):
    """A rubric version is never edited: "Add" starts from the newest wording and saves a new version."""

    form = RubricForm
    list_display = ["version", "note", "created_by", "created_at"]
    search_fields = ["note"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changeform_initial_data(self, request):
        return {"criteria": current_rubric().criteria}

    def save_model(self, request, obj, form, change):
        added = add_rubric_version(criteria=obj.criteria, note=obj.note, by=request.user)
        obj.pk, obj.version = added.pk, added.version


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Reviews are read here and on the submission's page; only their reviewer writes them (unlock: that page)."""

    list_display = ["assignment", "status", "version", "rubric", "suggested_tier", "updated_at"]
    list_filter = ["status", "assignment__submission__round", "suggested_tier"]
    search_fields = ["assignment__reviewer__username", "version__task_name"]
    list_select_related = [
        "assignment__reviewer",
        "assignment__submission__current_version",
        "version",
        "rubric",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ConflictForm(forms.ModelForm):
    reviewer = PersonChoiceField(queryset=reviewers())
    person = PersonChoiceField(
        queryset=get_user_model().objects.filter(groups__name=Role.CONTESTANT.value).order_by("username"),
        required=False,
        help_text="A contestant: the reviewer is conflicted with whichever team they are in.",
    )

    class Meta:
        model = Conflict
        fields = ["reviewer", "team", "person", "reason"]

    def clean(self):
        data = super().clean()
        if data.get("reviewer"):
            # The refusal lands beside the field it names (Django reads the service's error dict).
            check_conflict(reviewer=data["reviewer"], team=data.get("team"), person=data.get("person"))
        return data


@admin.register(Conflict)
class ConflictAdmin(admin.ModelAdmin):
    """Organizers set conflicts here and see those the reviewers declared."""

    form = ConflictForm
    list_display = ["reviewer", "team", "person", "source", "reason", "created_by", "created_at"]
    list_filter = ["source"]
    list_select_related = ["reviewer", "team", "person", "created_by"]
    search_fields = ["reviewer__username", "team__name", "person__username"]

    def has_change_permission(self, request, obj=None):
        return False  # set or removed, never turned into a conflict with someone else

    def save_model(self, request, obj, form, change):
        obj.pk = set_conflict(
            reviewer=obj.reviewer, team=obj.team, person=obj.person, reason=obj.reason, by=request.user
        ).pk


class InstitutionalDomainForm(forms.ModelForm):
    class Meta:
        model = InstitutionalDomain
        fields = ["domain"]
        help_texts = {
            "domain": "An institution's e-mail domain, like stanford.edu; its subdomains count too. Public "
            "webmail domains (gmail.com, outlook.com, …) are refused.",
        }

    def clean_domain(self):
        try:
            return clean_institutional_domain(self.cleaned_data["domain"])
        except ValidationError as refused:
            raise ValidationError(refused.message_dict["domain"]) from None


@admin.register(InstitutionalDomain)
class InstitutionalDomainAdmin(admin.ModelAdmin):
    """Reviewers and contestants with addresses at a listed domain are conflicted (computed, never stored)."""

    form = InstitutionalDomainForm
    list_display = ["domain", "added_by", "added_at"]
    search_fields = ["domain"]

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.pk = add_institutional_domain(domain=obj.domain, by=request.user).pk


@admin.register(DiscussionPost)
class DiscussionPostAdmin(admin.ModelAdmin):
    list_display = ["submission", "author", "created_at"]
    search_fields = ["body", "author__username"]
    list_select_related = ["submission__current_version", "author"]

    def has_add_permission(self, request):
        return False
