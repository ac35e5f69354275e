import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keel.settings")
application = get_wsgi_application()

# Everything loaded so far (Django, Keel, the URL and API tables) lives as long as the
# process: move it out of the cyclic garbage collector's reach. Otherwise every full
# collection walks those ~120,000 objects again, a pause of tens of milliseconds in
# whichever request happens to trigger it (the tail of the request latency). Collection of
# what requests allocate is unchanged.
gc.freeze()
