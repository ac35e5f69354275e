"""The gateway's database work, one module per part of the domain. Other domains and the
gateway's faces import from here (`from keel.gateway import services`)."""

from .benefits import *  # noqa: F403
from .bundles import *  # noqa: F403
from .clearing import *  # noqa: F403
from .corrections import *  # noqa: F403
from .events import *  # noqa: F403
from .links import *  # noqa: F403
from .plans import *  # noqa: F403
from .platforms import *  # noqa: F403
