"""The career pages, mounted at /career/: contracts, offers and recurring revenue (their
routes live beside their views)."""

from .offer_views import urlpatterns as _offer_urls
from .views import urlpatterns as _contract_urls

app_name = "career"
urlpatterns = [*_contract_urls, *_offer_urls]
