"""The organizer's people page: who holds which role, invitations by e-mail, granting and revoking roles."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors as people_selectors
from accounts import services as people_services
from accounts.models import Role
from accounts.selectors import is_organizer
from pages.forms import InviteForm


def ensure_organizer(request: HttpRequest) -> None:
    if not is_organizer(request.user):
        raise PermissionDenied("Only organizers can open this page.")


def _people_page(request: HttpRequest, invite_form: InviteForm, status: int = 200) -> HttpResponse:
    search = request.GET.get("q", "")
    role = request.GET.get("role", "")
    shown = list(people_selectors.people(search=search, role=role))
    for person in shown:
        person.role_names = [g.name for g in person.contest_roles]
    return render(
        request,
        "organizer/people.html",
        {
            "people": shown,
            "limit": people_selectors.PEOPLE_SHOWN,
            "search": search,
            "role": role if role in Role.values else "",
            "roles": Role.choices,
            "granted_roles": people_services.GRANTED_ROLES,
            "invite_form": invite_form,
            "invitations": people_selectors.pending_invitations(),
        },
        status=status,
    )


@login_required
@require_GET
def people(request: HttpRequest) -> HttpResponse:
    ensure_organizer(request)
    return _people_page(request, InviteForm())


@login_required
@require_POST
def people_invite(request: HttpRequest) -> HttpResponse:
    ensure_organizer(request)
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _people_page(request, form, status=400)
    invitation = people_services.invite(
        email=form.cleaned_data["email"], role=Role(form.cleaned_data["role"]), by=request.user
    )
    messages.success(request, f"Invitation sent to {invitation.email} ({invitation.role}).")
    return redirect("people")


@login_required
@require_POST
def people_role(request: HttpRequest, user_id: int) -> HttpResponse:
    """Grant (``action=grant``) or revoke (``action=revoke``) a reviewer or organizer role."""
    ensure_organizer(request)
    person = get_object_or_404(get_user_model(), pk=user_id)
    role = request.POST.get("role", "")
    action = request.POST.get("action", "")
    if role not in (r.value for r in people_services.GRANTED_ROLES) or action not in ("grant", "revoke"):
        messages.error(request, "Choose to grant or revoke the reviewer or organizer role.")
        return redirect("people")
    change = people_services.change_role if action == "grant" else people_services.revoke_role
    try:
        change(user=person, role=Role(role), by=request.user)
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
    else:
        done = "is now" if action == "grant" else "is no longer"
        messages.success(request, f"{person.get_username()} {done} {Role(role).label.lower()}.")
    back = request.POST.get("q")
    return redirect(reverse("people") + ("?" + urlencode({"q": back}) if back else ""))
