from dataclasses import dataclass
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.db import transaction

from accounts.services import register_contestant


@dataclass(frozen=True)
class ContestSite:
    """What allauth's e-mails call the site: the contest's name and public address, not the request's host."""

    name: str
    domain: str


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        with transaction.atomic():  # a new user always comes with their team
            user = super().save_user(request, user, form, commit=commit)
            if commit:
                register_contestant(user=user)
        return user

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        site = ContestSite(name=settings.CONTEST_NAME, domain=urlsplit(settings.SITE_URL).netloc)
        super().send_mail(template_prefix, email, {**context, "current_site": site})
