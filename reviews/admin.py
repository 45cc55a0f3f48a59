from django import forms
from django.contrib import admin

from reviews.models import Assignment
from reviews.services import assign_reviewer, check_assignment


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
