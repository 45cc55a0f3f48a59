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
]
