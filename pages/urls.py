from django.urls import path

from pages import people, rounds, views

urlpatterns = [
    path("", views.home, name="home"),
    path("contest/", views.contest_page, name="contest"),
    path("contest/examples/<str:metric>.csv", views.contest_example, name="contest_example"),
    path("contest/edit/<str:key>/", views.contest_text_edit, name="contest_text_edit"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission_detail"),
    path("submissions/<int:pk>/v<int:number>/", views.submission_detail, name="version_detail"),
    path("organizer/people/", people.people, name="people"),
    path("organizer/people/invite/", people.people_invite, name="people_invite"),
    path("organizer/people/<int:user_id>/roles/", people.people_role, name="people_role"),
    path("organizer/rounds/", rounds.rounds, name="rounds"),
    path("organizer/rounds/<int:pk>/", rounds.round_console, name="round_console"),
    path("organizer/rounds/<int:pk>/keep/", rounds.round_keep_request, name="round_keep_request"),
]
