from django.contrib import admin, messages
from django.utils.html import format_html

from evaluation import services
from evaluation.models import EvaluationRun, LanguageModel, ModelSeries, Reproduction, SeriesRelease


class LanguageModelInline(admin.TabularInline):
    model = LanguageModel
    extra = 1
    fields = ["order", "name", "parameter_count", "location", "api_base"]


@admin.register(ModelSeries)
class ModelSeriesAdmin(admin.ModelAdmin):
    list_display = ["name", "visibility", "backend", "is_active", "order"]
    list_editable = ["is_active", "order"]
    search_fields = ["name", "models__name"]
    inlines = [LanguageModelInline]
    actions = ["evaluate_current_versions"]

    @admin.action(description="Evaluate every current submission version on the selected series")
    def evaluate_current_versions(self, request, queryset):
        created = sum(services.enqueue_current_versions(series=series) for series in queryset)
        self.message_user(request, f"{created} run(s) queued.", messages.SUCCESS)


@admin.register(SeriesRelease)
class SeriesReleaseAdmin(admin.ModelAdmin):
    list_display = ["series", "round", "released_at", "released_by"]
    readonly_fields = ["released_by", "released_at"]
    search_fields = ["series__name", "round__name"]

    def has_change_permission(self, request, obj=None):
        return False  # a release is made or withdrawn (deleted), never edited into another one

    def save_model(self, request, obj, form, change):
        obj.pk = services.release_series(series=obj.series, round=obj.round, user=request.user).pk


@admin.register(EvaluationRun)
class EvaluationRunAdmin(admin.ModelAdmin):
    list_display = [
        "version",
        "reproduction",
        "model",
        "status",
        "progress_done",
        "progress_total",
        "attempts",
        "mean",
        "queued_at",
    ]
    list_filter = ["status", "model__series"]
    search_fields = [
        "version__task_name",
        "reproduction__version__task_name",
        "model__name",
        "worker",
        "failure_reason",
    ]
    actions = ["retry"]
    exclude = ["failure_traceback"]  # shown as preformatted text by traceback()

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in self.exclude] + ["traceback"]

    @admin.display(description="Failure traceback")
    def traceback(self, run: EvaluationRun) -> str:
        if not run.failure_traceback:
            return "-"
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', run.failure_traceback)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Retry the selected failed runs")
    def retry(self, request, queryset):
        retried = 0
        for run in queryset.filter(status=EvaluationRun.Status.FAILED):
            services.retry_run(run=run, user=request.user)
            retried += 1
        self.message_user(request, f"{retried} run(s) queued again.", messages.SUCCESS)


@admin.register(Reproduction)
class ReproductionAdmin(admin.ModelAdmin):
    """Reproductions are attached on the site (the review page, the submission's page), where the file is
    validated and its runs queued; here they are found and read."""

    list_display = ["__str__", "version", "number", "created_by", "created_at", "example_count"]
    list_select_related = ["version", "created_by"]
    search_fields = ["version__task_name", "created_by__username", "note", "sha256", "original_filename"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False
