from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from bailanys.accounts.models import User


@admin.register(User)
class BailanysUserAdmin(UserAdmin):
    list_display = ("username", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = (*UserAdmin.fieldsets, ("Bailanys", {"fields": ("role",)}))
