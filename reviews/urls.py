from django.urls import path

from reviews import views

urlpatterns = [
    path("reviews/conflicts/", views.conflicts, name="reviewer_conflicts"),
    path("reviews/conflicts/<int:pk>/withdraw/", views.conflict_withdraw, name="conflict_withdraw"),
]
