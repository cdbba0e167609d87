"""Swagger UI for /api/docs/, from the sidecar package, under the site's strict CSP.

drf-spectacular's plain Swagger view puts its start-up script and a few styles
inline, which `script-src 'self'` and `style-src 'self'` refuse. The split view
serves that script from this same URL (`?script`), and our template drops the
inline styles, so the page needs no CSP exception and nothing from a CDN.
"""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    url_name = "api-schema"
    template_name = "api/swagger_ui.html"
    title = "Candor API"
