from django.contrib import admin

from bailanys.privacy.audit import actor_label, audit_record
from bailanys.relay.models import Attempt, Case, Claim


class AuditedAdmin(admin.ModelAdmin):
    """Opening a record shows personal data, so it is audited like every other read."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        audit_record(
            actor=actor_label(request.user),
            action="admin.read" if request.method == "GET" else "admin.change",
            object_type=self.model._meta.model_name,
            object_id=object_id,
            request=request,
        )
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Case)
class CaseAdmin(AuditedAdmin):
    # Personal fields stay out of lists; open a case to see them.
    list_display = ("id", "state", "resolution", "flag", "priority", "failed_calls", "created_at")
    list_filter = ("state", "resolution", "priority")
    readonly_fields = ("current_claim", "recipient_key")


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "case_id",
        "volunteer",
        "started_at",
        "expires_at",
        "ended_at",
        "end_reason",
    )
    list_filter = ("end_reason",)


@admin.register(Attempt)
class AttemptAdmin(AuditedAdmin):
    list_display = ("id", "case_id", "volunteer", "outcome", "created_at")
    list_filter = ("outcome",)
