from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from bailanys.privacy.fields import SealedModel, SealedTextField


class ParsedPost(SealedModel):
    """One free-text post (a group message, an SMS, an imported line) and what it became.

    Unique per (source, external_id), which makes every intake of free text
    idempotent: importing the same export twice, or resuming one, adds nothing.
    """

    class State(models.TextChoices):
        REVIEW = "review", _("Waiting for review")
        CREATED = "created", _("Became requests")
        CONFIRMED = "confirmed", _("Confirmed by a reviewer")
        IGNORED = "ignored", _("Not a request")

    source = models.CharField(max_length=40)
    external_id = models.CharField(max_length=100)
    state = models.CharField(max_length=10, choices=State.choices)
    # Why it waits for a person: low confidence, scam signs, no number found.
    review_reason = models.CharField(max_length=100, blank=True)
    confidence = models.FloatField(default=0)
    text = SealedTextField(blank=True)
    author = SealedTextField(blank=True)
    author_contact = SealedTextField(blank=True)
    parsed = SealedTextField(blank=True)  # the parser's JSON
    corrected = SealedTextField(blank=True)  # what the reviewer confirmed, JSON
    requests_created = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="one_post_per_source_id")
        ]
        indexes = [models.Index(fields=["state", "created_at"], name="post_review_queue")]

    def __str__(self) -> str:
        return f"post {self.pk} ({self.source}, {self.state})"
