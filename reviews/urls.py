from django.urls import path

from reviews import views

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
]
