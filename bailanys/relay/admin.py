from django.contrib import admin

from bailanys.relay.models import Attempt, Case, Claim


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    # Personal fields stay out of lists; open a case to see them.
    list_display = ("id", "state", "resolution", "priority", "failed_calls", "created_at")
    list_filter = ("state", "resolution", "priority")
    readonly_fields = ("current_claim",)


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
class AttemptAdmin(admin.ModelAdmin):
    list_display = ("id", "case_id", "volunteer", "outcome", "created_at")
    list_filter = ("outcome",)
