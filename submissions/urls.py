from django.urls import path

from submissions import views

urlpatterns = [
    path("rounds/<int:round_id>/submit/", views.submission_create, name="submission_create"),
    path("rounds/<int:round_id>/keep/", views.keep_choice, name="keep_choice"),
    path("submissions/<int:pk>/edit/", views.submission_edit, name="submission_edit"),
    path("submissions/<int:pk>/withdraw/", views.submission_withdraw, name="submission_withdraw"),
    path("submissions/<int:pk>/reinstate/", views.submission_reinstate, name="submission_reinstate"),
    path("submissions/<int:pk>/v<int:number>/download/", views.version_download, name="version_download"),
    path("submissions/<int:pk>/v<int:number>/rows/<int:row>/", views.version_example, name="version_example"),
]
