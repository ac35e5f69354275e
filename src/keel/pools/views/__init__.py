"""The pool pages: the list of pools, starting a pool, the pool page with its members,
deposits, claims, votes, gift runs, ledger and charts, the claim and vote pages, the rule
change and leave pages, every member's and steward's action, and the solvency simulator.

Views stay thin: what a page shows comes from ``keel.pools.present`` (reads of the
services), every write is one call of a ``keel.pools.services`` function, and a service's
refusal comes back onto the form field it names (``forms.add_pool_error``) or, when it
names none, as a message on the page it was sent from.

A private pool is not found (404) for anyone outside it, at every address under it: its
page, ledger, claims, votes and actions alike. A public pool's pages are open to anyone,
with members shown by pseudonym only. A refusal of a member (the claimant deciding on
their own claim, a member running the gifts) is a 403 with the reason on the page; a
conflict (a vote already closed) a 409; a bad input a 400.
"""

from . import pages, simulator

urlpatterns = [*simulator.urlpatterns, *pages.urlpatterns]
