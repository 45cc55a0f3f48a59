from django.urls import path

from reviews import feedback_views, views

urlpatterns = [
    path("submissions/<int:pk>/review/", views.review_page, name="review_page"),
    path("submissions/<int:pk>/review/spot-check/", views.spot_check, name="spot_check"),
    path("submissions/<int:pk>/review/draft/", views.review_autosave, name="review_autosave"),
    path("submissions/<int:pk>/discussion/", views.discussion_post, name="discussion_post"),
    path("reviews/<int:review_id>/unlock/", views.review_unlock, name="review_unlock"),
    path("reviews/conflicts/", views.conflicts, name="reviewer_conflicts"),
    path("reviews/conflicts/<int:pk>/withdraw/", views.conflict_withdraw, name="conflict_withdraw"),
    path("console/rounds/<int:pk>/tally/", views.round_tally, name="round_tally"),
    path("console/rounds/<int:pk>/tally/rule/", views.round_tally_rule, name="round_tally_rule"),
    path("console/rounds/<int:pk>/tally/ranks/", views.round_tally_ranks, name="round_tally_ranks"),
    path(
        "console/rounds/<int:pk>/tally/<int:submission_id>/decide/",
        views.round_tally_decide,
        name="round_tally_decide",
    ),
    path("console/rounds/<int:pk>/tally/audit/", views.round_tally_audit, name="round_tally_audit"),
    path("console/rounds/<int:pk>/feedback/", feedback_views.feedback_round, name="feedback_round"),
    path(
        "console/rounds/<int:pk>/feedback/<int:submission_id>/",
        feedback_views.feedback_preview,
        name="feedback_preview",
    ),
    path(
        "console/rounds/<int:pk>/feedback/release/", feedback_views.feedback_release, name="feedback_release"
    ),
    path("console/rounds/<int:pk>/feedback/log/", feedback_views.feedback_log, name="feedback_log"),
    path(
        "console/rounds/<int:pk>/feedback/log/retry-failed/",
        feedback_views.feedback_retry_failed,
        name="feedback_retry_failed",
    ),
    path(
        "console/rounds/<int:pk>/feedback/log/<int:email_id>/retry/",
        feedback_views.feedback_retry,
        name="feedback_retry",
    ),
]
