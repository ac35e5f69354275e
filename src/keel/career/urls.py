"""The career pages, mounted at /career/: contracts, offers and recurring revenue, upsells,
90-day plans, reputation (portfolio, testimonials, profile), skills and peer groups; their
routes live beside their views. The pages without an account (a client's testimonial link,
a client's contract link, a public profile) are in ``public_urls``, mounted at the site's
root."""

from .client_views import urlpatterns as _client_urls
from .offer_views import urlpatterns as _offer_urls
from .peer_views import urlpatterns as _peer_urls
from .plan_views import urlpatterns as _plan_urls
from .reputation_views import urlpatterns as _reputation_urls
from .skills_views import urlpatterns as _skills_urls
from .upsell_views import urlpatterns as _upsell_urls
from .views import urlpatterns as _contract_urls

app_name = "career"
urlpatterns = [
    *_contract_urls,
    *_client_urls,
    *_upsell_urls,
    *_offer_urls,
    *_plan_urls,
    *_reputation_urls,
    *_skills_urls,
    *_peer_urls,
]
