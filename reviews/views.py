from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Role, Team
from accounts.selectors import has_role
from reviews import services
from reviews.forms import DeclareConflictForm
from reviews.models import Conflict
from reviews.selectors import conflicts_of, team_or_contestant_named


def _reviewers_only(request: HttpRequest) -> None:
    if not has_role(request.user, Role.REVIEWER):
        raise PermissionDenied("Only reviewers declare conflicts of interest.")


@login_required
@require_http_methods(["GET", "POST"])
def conflicts(request: HttpRequest) -> HttpResponse:
    """The reviewer's conflicts of interest: those they declared, those an organizer set, and a form."""
    _reviewers_only(request)
    form = DeclareConflictForm(request.POST or None)
    if form.is_valid():
        target = team_or_contestant_named(form.cleaned_data["name"])
        if target is None:
            form.add_error("name", "No team or contestant goes by this name; check the spelling with them.")
        else:
            is_team = isinstance(target, Team)
            try:
                services.declare_conflict(
                    reviewer=request.user,
                    team=target if is_team else None,
                    person=None if is_team else target,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as refused:
                form.add_error(None, refused.messages)
            else:
                messages.success(request, f"You will not be assigned the submissions of {target}.")
                return redirect("reviewer_conflicts")
    return render(request, "reviewer/conflicts.html", {"conflicts": conflicts_of(request.user), "form": form})


@login_required
@require_POST
def conflict_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    _reviewers_only(request)
    conflict = get_object_or_404(Conflict, pk=pk, reviewer=request.user)
    try:
        services.withdraw_declared_conflict(reviewer=request.user, conflict=conflict)
    except PermissionDenied as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"You withdrew your conflict with {conflict.team or conflict.person}.")
    return redirect("reviewer_conflicts")
