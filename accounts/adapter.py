from allauth.account.adapter import DefaultAccountAdapter
from django.db import transaction

from accounts.services import register_contestant


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        with transaction.atomic():  # a new user always comes with their team
            user = super().save_user(request, user, form, commit=commit)
            if commit:
                register_contestant(user=user)
        return user
