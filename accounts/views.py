from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.forms import JoinTeamForm, RenameTeamForm
from accounts.models import Role
from accounts.selectors import team_of
from accounts.services import InvitationInvalid, RoleRefused


def _apply(form, action):
    """Run a service on a valid form and return its result; a ValidationError lands beside its field."""
    if not form.is_valid():
        return None
    try:
        return action(form.cleaned_data)
    except ValidationError as refused:
        for field, errors in refused.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        return None


@login_required
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    my_team = team_of(request.user)
    join_form = JoinTeamForm(request.POST if "join" in request.POST else None)
    rename_form = RenameTeamForm(
        request.POST if "rename" in request.POST else None, initial={"name": my_team.name if my_team else ""}
    )
    try:
        if "join" in request.POST and (
            joined := _apply(
                join_form, lambda d: services.join_team(user=request.user, invite_code=d["invite_code"])
            )
        ):
            messages.success(request, f"You joined {joined.name}.")
            return redirect("team")
        if (
            "rename" in request.POST
            and my_team
            and (
                renamed := _apply(
                    rename_form,
                    lambda d: services.rename_team(user=request.user, team=my_team, name=d["name"]),
                )
            )
        ):
            messages.success(request, f"Your team is now called {renamed.name}.")
            return redirect("team")
    except PermissionDenied as refused:
        messages.error(request, str(refused))
        return redirect("team")
    members = my_team.memberships.select_related("user") if my_team else []
    return render(
        request,
        "accounts/team.html",
        {"team": my_team, "members": members, "join_form": join_form, "rename_form": rename_form},
    )


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link of an invitation e-mail: the invitee signs in (or up) with the invited address, then accepts.
    Accepting takes a click (a POST): mail scanners that open links must not use the invitation."""
    try:
        invitation = services.invitation_from(token)
        if request.method == "POST" and request.user.is_authenticated:
            services.accept_invitation(token=token, user=request.user)
            messages.success(request, f"You are now a {Role(invitation.role).label.lower()} of the contest.")
            return redirect("dashboard")
    except (InvitationInvalid, RoleRefused) as refused:
        reason = " ".join(refused.messages) if isinstance(refused, RoleRefused) else str(refused)
        return render(request, "accounts/invitation.html", {"reason": reason}, status=400)
    return render(
        request,
        "accounts/invitation.html",
        {"invitation": invitation, "role": Role(invitation.role).label.lower(), "path": request.path},
    )
