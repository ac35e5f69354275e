"""The career pages, mounted at /career/: contracts, offers and recurring revenue, and
90-day plans (their routes live beside their views)."""

from .offer_views import urlpatterns as _offer_urls
from .plan_views import urlpatterns as _plan_urls
from .views import urlpatterns as _contract_urls

app_name = "career"
urlpatterns = [*_contract_urls, *_offer_urls, *_plan_urls]
