from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from bailanys.accounts.models import User


@admin.register(User)
class BailanysUserAdmin(UserAdmin):
    list_display = ("username", "role", "is_active", "approved_at", "suspended_at", "last_login")
    list_filter = ("role", "is_active")
    # Approve and suspend on /accounts/volunteers/ or with `bailanys volunteer`: unticking
    # "active" here does not revoke API tokens or return held cases.
    readonly_fields = ("approved_at", "approved_by", "suspended_at", "suspended_by")
    fieldsets = (
        *UserAdmin.fieldsets,
        (
            "Bailanys",
            {"fields": ("role", "approved_at", "approved_by", "suspended_at", "suspended_by")},
        ),
    )
