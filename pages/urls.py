from django.urls import path

from pages import views

urlpatterns = [
    path("", views.home, name="home"),
    path("contest/", views.contest_page, name="contest"),
    path("contest/examples/<str:metric>.csv", views.contest_example, name="contest_example"),
    path("contest/edit/<str:key>/", views.contest_text_edit, name="contest_text_edit"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission_detail"),
    path("submissions/<int:pk>/v<int:number>/", views.submission_detail, name="version_detail"),
]
