from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    VOLUNTEER = "volunteer", _("Volunteer")
    EXPERIENCED = "experienced", _("Experienced volunteer")
    COORDINATOR = "coordinator", _("Coordinator")
    ADMIN = "admin", _("Admin")


# Roles an invitation may give: coordinators are made by an operator, not by a link.
INVITABLE_ROLES = (Role.VOLUNTEER, Role.EXPERIENCED)


class AccountState(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")


class User(AbstractUser):
    """A volunteer, coordinator or admin. Requesters have no account.

    `is_active` is what Django checks at every login and on every request; the
    fields below say why an account is not active: never approved (joined by
    invitation, waiting for a coordinator) or suspended.
    """

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VOLUNTEER)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    @property
    def is_coordinator(self) -> bool:
        return self.role in (Role.COORDINATOR, Role.ADMIN)

    @property
    def needs_two_factor(self) -> bool:
        """Coordinators, admins and anyone who can open /admin/ must use a TOTP code."""
        return self.is_coordinator or self.is_staff or self.is_superuser

    @property
    def state(self) -> str:
        if self.is_active:
            return AccountState.ACTIVE
        if self.approved_at is None and self.suspended_at is None:
            return AccountState.PENDING
        return AccountState.SUSPENDED

    def get_state_display(self) -> str:
        return AccountState(self.state).label


class CreditTopUp(models.Model):
    """Phone credit added to a volunteer's phone, in call minutes (marked by them or a
    coordinator). Balance = top-ups - call minutes - SMS sent (see relay.credit)."""

    volunteer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credit_topups"
    )
    minutes = models.PositiveIntegerField()
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"top-up {self.pk} of {self.volunteer_id}"


class ApiToken(models.Model):
    """A bearer token for the volunteer API; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token {self.pk} of {self.user_id}"


class Invitation(models.Model):
    """A single-use link to sign up; only the SHA-256 of its token is stored."""

    digest = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VOLUNTEER)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitations_made",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitation",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"invitation {self.pk} ({self.role})"

    @property
    def is_open(self) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > timezone.now()
