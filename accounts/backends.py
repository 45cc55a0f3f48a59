"""The sign-in backends, each reading the signed-in user of every request, with their roles and team, in one
statement compiled once (``accounts.selectors.signed_in_user``): the ORM's compiling of those queries cost more
than running them, on every page."""

from allauth.account import auth_backends as allauth
from django.contrib.auth import backends as django

from accounts.selectors import signed_in_user


def _active_user(backend: django.ModelBackend, user_id):
    user = signed_in_user(user_id)
    return user if user is not None and backend.user_can_authenticate(user) else None


class ModelBackend(django.ModelBackend):
    def get_user(self, user_id):
        return _active_user(self, user_id)


class AuthenticationBackend(allauth.AuthenticationBackend):
    def get_user(self, user_id):
        return _active_user(self, user_id)
