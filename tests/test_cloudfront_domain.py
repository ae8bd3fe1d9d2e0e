"""`SHAREDESK_CLOUDFRONT_DOMAIN` takes a bare domain (https implied, as in production) or a whole base URL."""

from __future__ import annotations

import pytest

from dashboard.strategies.cloudfront import base_url


@pytest.mark.parametrize(
    ("setting", "base"),
    [
        ("d111111abcdef8.cloudfront.net", "https://d111111abcdef8.cloudfront.net"),
        ("cdn.example.com/", "https://cdn.example.com"),
        ("https://cdn.example.com", "https://cdn.example.com"),
        ("http://127.0.0.1:8611", "http://127.0.0.1:8611"),
        ("https://cdn.example.com/files/", "https://cdn.example.com/files"),
    ],
)
def test_a_domain_or_a_base_url_gives_where_links_start(setting, base):
    assert base_url(setting) == base


@pytest.mark.parametrize("setting", ["ftp://cdn.example.com", "https://", "https://cdn.example.com?x=1", "http://user@cdn.example.com", "http://host:port"])
def test_anything_else_is_not_a_cloudfront_base(setting):
    assert base_url(setting) is None
