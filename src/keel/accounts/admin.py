from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .forms import AdminUserAddForm, AdminUserChangeForm
from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]
    """Django's user admin, reshaped for a user model that logs in by email."""

    form = AdminUserChangeForm
    add_form = AdminUserAddForm
    list_display = ("email", "name", "home_currency", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "name")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined", "two_factor_enabled")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "home_currency")}),
        (
            "Roles and permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        # Read-only: it follows the person's TOTP devices (delete one to turn it off).
        ("Two-factor sign-in", {"fields": ("two_factor_enabled",)}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "name",
                    "home_currency",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
