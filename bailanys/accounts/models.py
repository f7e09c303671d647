from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    VOLUNTEER = "volunteer", _("Volunteer")
    EXPERIENCED = "experienced", _("Experienced volunteer")
    COORDINATOR = "coordinator", _("Coordinator")
    ADMIN = "admin", _("Admin")


class User(AbstractUser):
    """A volunteer, coordinator or admin. Requesters have no account."""

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VOLUNTEER)

    @property
    def is_coordinator(self) -> bool:
        return self.role in (Role.COORDINATOR, Role.ADMIN)


class ApiToken(models.Model):
    """A bearer token for the volunteer API; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token {self.pk} of {self.user_id}"
