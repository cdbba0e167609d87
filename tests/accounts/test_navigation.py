from __future__ import annotations

import pytest
from django.test import RequestFactory

from accounts.navigation import local_url


@pytest.mark.parametrize(
    "url, expected",
    [
        ("/clients/?page=2", "/clients/?page=2"),
        ("http://testserver/clients/", "/clients/"),  # a Referer from this site
        ("https://evil.example/clients/", None),
        ("//evil.example/clients/", None),
        ("dashboard", None),  # redirect() would read it as a view's name
        ("/ok\n", None),
        ("javascript:alert(1)", None),
        ("", None),
        (None, None),
    ],
)
def test_only_a_path_on_this_site_is_a_place_to_go_back_to(url, expected):
    assert local_url(RequestFactory().get("/"), url) == expected
