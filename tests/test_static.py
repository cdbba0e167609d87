"""Production static files: collectstatic with the hashed, compressed storage."""

from __future__ import annotations

import io

from django.core.management import call_command


def test_collectstatic_succeeds_with_the_production_storage(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--no-input", stdout=io.StringIO())
    manifest = (tmp_path / "staticfiles.json").read_text()
    for name in [
        "vendor/bootstrap/bootstrap.min.css",
        "vendor/chart.js/chart.umd.min.js",
        "css/candor.css",
        "js/charts.js",
    ]:
        assert f'"{name}"' in manifest
