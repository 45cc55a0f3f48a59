from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("pages.urls")),
    path("", include("submissions.urls")),
    path("", include("evaluation.urls")),
    path("", include("reviews.urls")),
]

handler400 = "config.views.bad_request"
