"""A volunteer's relay profile: read with its defaults, written in one place."""

from bailanys.accounts.models import Role, User
from bailanys.relay.models import VolunteerProfile


def profile_of(user: User) -> VolunteerProfile:
    """The volunteer's profile; an unsaved one with the defaults if they have none yet."""
    try:
        return user.relay_profile
    except VolunteerProfile.DoesNotExist:
        # Kept on the user object like a loaded row: asking again costs no query.
        profile = VolunteerProfile(user=user)
        user._state.fields_cache["relay_profile"] = profile
        return profile


def profile_set(user: User | int, **fields) -> None:
    """Write profile fields, making the row if the volunteer has none."""
    user_id = user if isinstance(user, int) else user.pk
    VolunteerProfile.objects.update_or_create(user_id=user_id, defaults=fields)
    if not isinstance(user, int):
        # The next read through this user object sees the new values.
        user._state.fields_cache.pop("relay_profile", None)


def takes_hard_cases(user: User) -> bool:
    """Hard cases go only to experienced volunteers and coordinators who did not opt out."""
    return user.role != Role.VOLUNTEER and not profile_of(user).hard_cases_opt_out


def needs_talk(user: User) -> bool:
    return profile_of(user).needs_talk_at is not None
