from django.urls import path

from evaluation import views

urlpatterns = [
    path(
        "submissions/<int:pk>/v<int:number>/evaluation.json",
        views.evaluation_status,
        name="evaluation_status",
    ),
    path(
        "submissions/<int:pk>/v<int:number>/evaluation.html",
        views.evidence_fragment,
        name="evidence_fragment",
    ),
    path(
        "submissions/<int:pk>/v<int:number>/examples/",
        views.examples_drill_down,
        name="examples_drill_down",
    ),
    path(
        "submissions/<int:pk>/v<int:number>/results.csv",
        views.results_download,
        {"fmt": "csv"},
        name="results_csv",
    ),
    path(
        "submissions/<int:pk>/v<int:number>/results.json",
        views.results_download,
        {"fmt": "json"},
        name="results_json",
    ),
    path(
        "submissions/<int:pk>/v<int:number>/charts/<int:series_id>-<str:kind>.png",
        views.figure_png_download,
        name="figure_png",
    ),
    path("submissions/<int:pk>/reproductions/", views.reproductions, name="reproductions"),
    path(
        "submissions/<int:pk>/reproductions/<int:reproduction_id>/status.json",
        views.reproduction_status,
        name="reproduction_status",
    ),
    path(
        "submissions/<int:pk>/reproductions/<int:reproduction_id>/evaluation.html",
        views.reproduction_fragment,
        name="reproduction_fragment",
    ),
    path(
        "submissions/<int:pk>/reproductions/<int:reproduction_id>/file.csv",
        views.reproduction_download,
        name="reproduction_download",
    ),
    path("runs/<int:run_id>/retry/", views.run_retry, name="run_retry"),
    path("help/trend-verdicts/", views.verdicts_help, name="verdicts_help"),
]
