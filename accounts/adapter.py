from allauth.account.adapter import DefaultAccountAdapter

from accounts.services import register_contestant


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            register_contestant(user=user)
        return user
