"""Collect a handful of built front-end files from node_modules.

npm installs whole packages (chart.js/dist alone is 17 MB of modules, maps and
type definitions); pages need only a few minified files. This finder exposes
exactly those, under `vendor/`, to runserver, whitenoise and collectstatic.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Warning
from django.core.files.storage import FileSystemStorage

# static path -> path inside node_modules
# Each minified file names its source map, and collectstatic's manifest
# storage refuses a reference it cannot resolve, so the maps come along.
VENDOR_FILES = {
    f"vendor/{package}/{name}": f"{package}/dist/{path}{name}"
    for package, path, names in [
        ("bootstrap", "css/", ["bootstrap.min.css", "bootstrap.min.css.map"]),
        ("bootstrap", "js/", ["bootstrap.bundle.min.js", "bootstrap.bundle.min.js.map"]),
        ("chart.js", "", ["chart.umd.min.js", "chart.umd.min.js.map"]),
    ]
    for name in names
}


class NodeModulesFinder(BaseFinder):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        root = Path(settings.NODE_MODULES_DIR)
        self.sources = {name: root / source for name, source in VENDOR_FILES.items()}

    def check(self, **kwargs) -> list[Warning]:
        missing = [str(path) for path in self.sources.values() if not path.is_file()]
        if not missing:
            return []
        return [
            Warning(
                f"Front-end files are missing: {', '.join(missing)}",
                hint="Run `npm ci` (make does this for you).",
                id="candor.W001",
            )
        ]

    def find(self, path: str, find_all: bool = False) -> str | list[str]:
        source = self.sources.get(path)
        if source is None or not source.is_file():
            return []
        return [str(source)] if find_all else str(source)

    def list(self, ignore_patterns):
        for name, source in self.sources.items():
            if not source.is_file():
                continue
            storage = FileSystemStorage(location=source.parent)
            storage.prefix = str(Path(name).parent)
            yield source.name, storage
