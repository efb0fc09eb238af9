"""_artifact.source: the audit log's name of a source, without the credentials a URL may carry."""

from __future__ import annotations

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._artifact.source import (
    describe,
    redact,
    redact_url,
    url_secrets,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:s3cret@git.example.org/shop.git", "https://git.example.org/shop.git"),
        ("https://ghp_t0ken@github.com/org/shop.git", "https://github.com/org/shop.git"),
        ("https://a%40b:p%3Ass@host:8443/x.git", "https://host:8443/x.git"),
        ("ssh://git@git.example.org:2222/shop.git", "ssh://git.example.org:2222/shop.git"),
        ("file:///srv/git/shop.git", "file:///srv/git/shop.git"),
        ("git@github.com:org/shop.git", "git@github.com:org/shop.git"),
        ("/home/alice/shop", "/home/alice/shop"),
        ("https://host/path@v1", "https://host/path@v1"),
    ],
)
def test_redact_url_removes_user_information_only(url, expected):
    assert redact_url(url) == expected


def test_url_secrets_are_the_password_and_the_token_in_both_spellings():
    assert set(url_secrets("https://user:p%3Ass@host/x.git")) == {"user:p%3Ass", "p%3Ass", "user:p:ss", "p:ss"}
    assert url_secrets("https://ghp_t0ken@github.com/x.git") == ["ghp_t0ken"]
    # An ssh account name is no secret, and masking "git" would mask every message.
    assert url_secrets("ssh://git@host/x.git") == []
    assert url_secrets("/srv/git/shop") == []


def test_redact_masks_secrets_wherever_they_appear():
    secrets = url_secrets("https://user:s3cret@127.0.0.1:9/x.git")
    said = "fatal: unable to access 'https://user:s3cret@127.0.0.1:9/x.git/': password s3cret refused"
    assert "s3cret" not in redact(said, secrets)
    assert "https://127.0.0.1:9/x.git/" in redact(said, secrets)


@pytest.mark.parametrize(
    ("kind", "src", "ref", "expected"),
    [
        ("git", "https://user:s3cret@host/shop.git", "v2", "git:https://host/shop.git@v2"),
        ("git", "file:///srv/shop", "main", "git:file:///srv/shop@main"),
        ("git", "/srv/shop", "HEAD", "git:/srv/shop@HEAD"),
        ("archive", "/tmp/build.tar.gz", "HEAD", "archive:/tmp/build.tar.gz"),
        ("wheel", "/tmp/shop-1.0-py3-none-any.whl", "HEAD", "wheel:/tmp/shop-1.0-py3-none-any.whl"),
        ("dir", "/home/alice/shop", "v9", "dir:/home/alice/shop"),
    ],
)
def test_describe_names_the_source_as_the_audit_log_did(kind, src, ref, expected):
    assert describe(kind, src, ref) == expected
