from django.urls import path

from accounts import views

urlpatterns = [
    path("team/", views.team, name="team"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
