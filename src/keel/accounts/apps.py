from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AccountsConfig(AppConfig):
    name = "keel.accounts"
    label = "accounts"
    verbose_name = "People and roles"

    def ready(self) -> None:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        # Registers the deploy check that production has a mail server.
        from . import mail  # noqa: F401

        # Operators may delete or edit authenticators in the admin; the person's mirrored
        # two-factor flag must follow whoever changes the devices.
        post_save.connect(_device_changed, sender=TOTPDevice, dispatch_uid="keel-2fa-saved")
        post_delete.connect(_device_changed, sender=TOTPDevice, dispatch_uid="keel-2fa-deleted")


def _device_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    from .two_factor import sync_flag

    sync_flag(instance.user_id)
