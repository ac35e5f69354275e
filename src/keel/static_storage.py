"""Where `keel serve` collects the static files: whitenoise's hashed, precompressed files,
gzip only.

whitenoise also writes a brotli copy of every file whenever the `brotli` module can be
imported, and other packages bring it in (Locust, a development dependency, does). At
brotli's default quality the vendored plotly.js alone takes about 14 s of CPU, and
`keel serve` collects on every start: minutes before a server answers. gzip keeps the
documented behaviour (docs/operations.md) and the start-up short.
"""

from __future__ import annotations

from typing import Any

from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage


class GzipManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):  # type: ignore[misc]
    def create_compressor(self, **kwargs: Any) -> Compressor:
        return Compressor(**{**kwargs, "use_brotli": False})
