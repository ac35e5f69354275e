from django.apps import AppConfig


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

        # Anyone signed in may start or join a pool; membership comes from the pool itself.
        register_nav("Pools", "pools:list", order=35)
        register_scope("pools:read", "read your pools: members, reserves, ledger, claims and votes")
        register_scope("pools:write", "report claims, decide on claims and vote in your pools")
