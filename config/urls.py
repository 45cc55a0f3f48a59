from django.conf import settings
from django.contrib import admin
from django.urls import include, path

# What remains of the admin is the contest's, not "Django administration".
admin.site.site_header = settings.CONTEST_NAME
admin.site.site_title = f"{settings.CONTEST_NAME} admin"
admin.site.index_title = "Manage the contest"

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
