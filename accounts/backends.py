"""The sign-in backends, each reading the signed-in user of every request with SQL compiled once
(``config.rows``): the ORM's compiling of that one query cost more than running it, on every page."""

from allauth.account import auth_backends as allauth
from django.contrib.auth import backends as django
from django.contrib.auth import get_user_model

from config import rows


def _active_user(backend: django.ModelBackend, user_id):
    user = rows.by_key(get_user_model(), user_id)
    return user if user is not None and backend.user_can_authenticate(user) else None


class ModelBackend(django.ModelBackend):
    def get_user(self, user_id):
        return _active_user(self, user_id)


class AuthenticationBackend(allauth.AuthenticationBackend):
    def get_user(self, user_id):
        return _active_user(self, user_id)
