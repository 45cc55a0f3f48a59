from django.urls import path

from pages import benchmark_views, overview_views, people, rounds, views

urlpatterns = [
    path("", views.home, name="home"),
    path("contest/", views.contest_page, name="contest"),
    path("contest/examples/<str:metric>.csv", views.contest_example, name="contest_example"),
    path("contest/edit/<str:key>/", views.contest_text_edit, name="contest_text_edit"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission_detail"),
    path("submissions/<int:pk>/v<int:number>/", views.submission_detail, name="version_detail"),
    path("console/benchmark.zip", benchmark_views.benchmark_zip, name="benchmark_zip"),
    path("console/rounds/<int:round_id>/overview/", overview_views.round_overview, name="round_overview"),
    path(
        "console/rounds/<int:round_id>/overview.csv",
        overview_views.round_overview_csv,
        name="round_overview_csv",
    ),
    path(
        "console/rounds/<int:round_id>/overview.json",
        overview_views.round_overview_json,
        name="round_overview_json",
    ),
    path("console/people/", people.people, name="people"),
    path("console/people/invite/", people.people_invite, name="people_invite"),
    path("console/people/<int:user_id>/roles/", people.people_role, name="people_role"),
    path("console/rounds/", rounds.rounds, name="rounds"),
    path("console/rounds/<int:pk>/", rounds.round_console, name="round_console"),
    path("console/rounds/<int:pk>/keep/", rounds.round_keep_request, name="round_keep_request"),
]
