from django.contrib import admin

from submissions.models import Round, Submission, SubmissionVersion


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "opens_at",
        "deadline",
        "closes_at",
        "review_deadline",
        "feedback_date",
        "max_submissions_per_team",
        "min_examples",
        "subsample_cap",
    ]
    search_fields = ["name"]


class SubmissionVersionInline(admin.TabularInline):
    model = SubmissionVersion
    fields = ["number", "task_name", "metric", "example_count", "sha256", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "round", "team", "created_at", "withdrawn_at"]
    list_filter = ["round", ("withdrawn_at", admin.EmptyFieldListFilter)]
    readonly_fields = [
        "round",
        "team",
        "created_by",
        "created_at",
        "current_version",
        "withdrawn_at",
        "withdrawn_by",
        "withdrawal_reason",
    ]
    inlines = [SubmissionVersionInline]
    search_fields = ["current_version__task_name", "team__name"]

    def has_add_permission(self, request):
        return False  # submissions come from contestants, through the submission form


@admin.register(SubmissionVersion)
class SubmissionVersionAdmin(admin.ModelAdmin):
    """Versions are immutable: the admin shows them and never changes or deletes them."""

    list_display = ["__str__", "submission", "metric", "example_count", "created_at"]
    list_filter = ["metric", "submission__round"]
    search_fields = ["task_name", "submission__team__name", "original_filename", "sha256"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
