"""The career pages that need no account, mounted at the site's root by ``keel.urls``
(before the catch-all includes): a client's testimonial link /t/<token>/ and a public
profile /p/<handle>/."""

from .reputation_views import public_urlpatterns

app_name = "career_public"
urlpatterns = public_urlpatterns
