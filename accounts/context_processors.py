from accounts.models import Role
from accounts.selectors import has_role, is_organizer, team_of


def roles(request):
    user = request.user
    return {
        "is_contestant": has_role(user, Role.CONTESTANT),
        "is_reviewer": has_role(user, Role.REVIEWER),
        "is_organizer": is_organizer(user),
        "my_team": team_of(user),
    }
