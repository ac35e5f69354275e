from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save


class CareerConfig(AppConfig):
    name = "keel.career"
    label = "career"
    verbose_name = "Career engine"

    def ready(self) -> None:
        from keel.accounts.models import Role
        from keel.income.commitments import register_commitment_provider
        from keel.web.navigation import register_nav
        from keel.web.panels import register_panel

        from .offers import dashboard_panel
        from .planning import dashboard_panel as plan_panel
        from .services import milestone_commitments

        # A group invitation sent to an address before it had an account waits for the
        # person, however they join (sign-up, `keel worker create`, the admin).
        post_save.connect(
            _person_created, sender=settings.AUTH_USER_MODEL, dispatch_uid="keel-peer-invites"
        )
        register_nav("Contracts", "career:contracts", role=Role.WORKER, order=25)
        register_nav("Offers", "career:offers", role=Role.WORKER, order=26)
        register_nav("Reputation", "career:portfolio", role=Role.WORKER, order=27)
        # The worker's MRR now and its change this month, on the dashboard.
        register_panel(
            "career.mrr", "career/offers/_dashboard_panel.html", dashboard_panel, order=20
        )
        # The current 90-day plan's progress, beside MRR.
        register_panel("career.plan", "career/plans/_dashboard_panel.html", plan_panel, order=21)
        # Milestones due count in the income forecast as scheduled payments.
        register_commitment_provider(milestone_commitments)


def _person_created(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kw: Any
) -> None:
    if created and not raw:
        from .peer_services import claim_email_invitations

        claim_email_invitations(instance)
