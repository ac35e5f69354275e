from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from keel.audit import services as audit

from . import notices
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

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        """Django's page for an operator to set a person's password (or turn password log-in
        off). The person is told by email, as when they change it themselves: an operator's
        session in the wrong hands must not take over someone's account unnoticed."""
        pk = unquote(id)
        with transaction.atomic():
            before = User.objects.filter(pk=pk).values_list("password", flat=True).first()
            response: HttpResponse = super().user_change_password(request, id, form_url)
            person = User.objects.filter(pk=pk).first()
            if request.method == "POST" and person is not None and person.password != before:
                usable = person.has_usable_password()
                operator = request.user if isinstance(request.user, User) else None
                audit.record(
                    "password.set_by_operator",
                    actor=operator,
                    request=request,
                    subject=f"user:{person.pk}",
                    details={"usable": usable},
                )
                change = (
                    notices.Change.OPERATOR_SET_PASSWORD
                    if usable
                    else notices.Change.OPERATOR_UNSET_PASSWORD
                )
                notices.notify(person, change, request=request)
        return response
