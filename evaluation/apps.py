from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"

    def ready(self) -> None:
        from evaluation.receivers import evaluate_new_version
        from submissions.signals import version_created

        version_created.connect(evaluate_new_version, dispatch_uid="evaluation.evaluate_new_version")
