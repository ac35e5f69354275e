"""The gateway's pages: the worker's benefits account, offers (bundles and plans) and the
platform operator's console. Each part keeps its routes beside its views."""

from .views import benefits, console, offers

app_name = "gateway"
urlpatterns = [*benefits.urlpatterns, *offers.urlpatterns, *console.urlpatterns]
