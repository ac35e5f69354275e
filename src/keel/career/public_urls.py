"""The career pages that need no account, mounted at the site's root by ``keel.urls``
(before the catch-all includes): a client's testimonial link /t/<token>/, a client's
contract link /c/<token>/ and a public profile /p/<handle>/."""

from .client_views import public_urlpatterns as _client_urls
from .reputation_views import public_urlpatterns as _reputation_urls

app_name = "career_public"
urlpatterns = [*_reputation_urls, *_client_urls]
