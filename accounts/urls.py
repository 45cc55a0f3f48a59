from django.urls import path

from accounts import views

urlpatterns = [path("team/", views.team, name="team")]
