from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"

    def ready(self) -> None:
        from reviews.selectors import assigned_to
        from submissions.selectors import register_review_access

        register_review_access(assigned_to)
