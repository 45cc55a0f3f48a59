from django import forms
from django.contrib import admin

from reviews.models import Assignment
from reviews.services import check_assignment


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

    def save_model(self, request, obj, form, change):
        obj.assigned_by = request.user
        super().save_model(request, obj, form, change)
