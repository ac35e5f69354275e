"""Static files are precompressed with gzip only, even where the brotli module is installed
(Locust, a development dependency, brings it): brotli at its default quality made every
`keel serve` start spend minutes compressing the vendored plotly.js and Bootstrap."""

from __future__ import annotations

from pathlib import Path

import brotli

import keel.settings
from keel.static_storage import GzipManifestStaticFilesStorage


def test_keel_serves_its_static_files_from_the_gzip_only_storage():
    assert (
        keel.settings.STORAGES["staticfiles"]["BACKEND"]
        == "keel.static_storage.GzipManifestStaticFilesStorage"
    )


def test_a_static_file_is_compressed_to_gzip_and_not_brotli(tmp_path: Path):
    assert brotli.compress(b"installed")  # the module whitenoise would otherwise use
    script = tmp_path / "app.js"
    script.write_text("var keel = 'a safety net';\n" * 2_000, encoding="utf-8")
    storage = GzipManifestStaticFilesStorage(location=str(tmp_path))

    written = list(storage.create_compressor(quiet=True).compress(str(script)))

    assert written == [f"{script}.gz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.js", "app.js.gz"]
