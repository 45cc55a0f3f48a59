from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"

    def ready(self) -> None:
        from evaluation.receivers import evaluate_new_version
        from submissions.signals import version_created

        version_created.connect(evaluate_new_version, dispatch_uid="evaluation.evaluate_new_version")

        from config import freshness
        from evaluation.models import EvaluationRun

        # A worker writes a run's heartbeat and progress every few seconds: cached pages show neither (the
        # version page is not cached while a run of it is running; its progress bars ask for the counts).
        freshness.unwatched_columns(
            EvaluationRun._meta.db_table, {"heartbeat_at", "progress_done", "progress_total"}
        )
