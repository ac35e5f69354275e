"""People who use Keel. A person signs in with their email address.

Roles are Django groups (worker, pool member, platform operator) so that operators can
grant them in the admin and later domains can attach their own memberships to them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    WORKER = "worker", "Worker"
    POOL_MEMBER = "pool member", "Pool member"
    PLATFORM_OPERATOR = "platform operator", "Platform operator"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150)
    home_currency = models.CharField(
        max_length=3, default="USD", help_text="ISO 4217 code the person plans their money in."
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May use the operators' admin.")
    date_joined = models.DateTimeField(default=timezone.now)
    # Whether the person has a confirmed authenticator (a django-otp TOTP device). Kept here,
    # beside what every request loads anyway, so telling a verified session from one that
    # still owes its code costs no query; keel.accounts.two_factor keeps it in step with
    # the devices, including devices an operator deletes in the admin.
    two_factor_enabled = models.BooleanField("two-factor sign-in", default=False, editable=False)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["name"]

    class Meta:
        ordering = ("email",)

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.email

    def has_role(self, role: Role | str) -> bool:
        return self.groups.filter(name=str(role)).exists()

    @property
    def roles(self) -> list[str]:
        return sorted(self.groups.filter(name__in=Role.values).values_list("name", flat=True))


class SignupRequest(models.Model):
    """A sign-up waiting for the owner of the address to open the link emailed to it.

    Nothing else exists yet: no person, no books. Only a digest of the link's token is kept,
    so the table alone cannot confirm anyone. The password is already hashed, as on User."""

    email = models.EmailField(db_index=True)
    name = models.CharField(max_length=150)
    home_currency = models.CharField(max_length=3)
    role = models.CharField(max_length=32, choices=Role.choices)
    password = models.CharField(max_length=128)
    next_url = models.CharField(max_length=2000, blank=True)
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"sign-up of {self.email} ({self.created_at:%Y-%m-%d %H:%M})"
