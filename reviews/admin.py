from django import forms
from django.contrib import admin

from contest import rubric
from reviews.models import Assignment, DiscussionPost, Review, Rubric
from reviews.services import add_rubric_version, assign_reviewer, check_assignment, current_rubric


class AssignmentForm(forms.ModelForm):
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
    list_display = ["submission", "reviewer", "assigned_by", "assigned_at"]
    list_filter = ["submission__round", "reviewer"]

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


@admin.register(DiscussionPost)
class DiscussionPostAdmin(admin.ModelAdmin):
    list_display = ["submission", "author", "created_at"]
    search_fields = ["body", "author__username"]
    list_select_related = ["submission__current_version", "author"]

    def has_add_permission(self, request):
        return False
