from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save


class PoolsConfig(AppConfig):
    name = "keel.pools"
    label = "pools"
    verbose_name = "Peer pools"

    def ready(self) -> None:
        from keel.api.keys import register_scope
        from keel.web.navigation import register_nav

        # Registers the simulator's background task with the task queue in every process,
        # the task runner included.
        from . import simjobs  # noqa: F401

        # An invitation sent to an address before it had an account waits for the person,
        # however they join (sign-up, `keel worker create`, the admin).
        post_save.connect(
            _person_created, sender=settings.AUTH_USER_MODEL, dispatch_uid="keel-pool-invites"
        )
        # Anyone signed in may start or join a pool; membership comes from the pool itself.
        register_nav("Pools", "pools:list", order=35)
        register_scope("pools:read", "read your pools: members, reserves, ledger, claims and votes")
        register_scope("pools:write", "report claims, decide on claims and vote in your pools")


def _person_created(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kw: Any
) -> None:
    if created and not raw:
        from .services import claim_email_invitations

        claim_email_invitations(instance)
