"""Settings: environment first, then secrets; every setting documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.config import SETTINGS_DOC, Settings, SettingsError

README = Path(__file__).resolve().parent.parent / "README.md"


def test_no_aws_settings_means_demo():
    assert Settings.load({}, {}).demo is True


@pytest.mark.parametrize("marker", ["AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ENDPOINT_URL"])
def test_any_aws_setting_turns_the_demo_off(marker):
    assert Settings.load({marker: "x"}, {}).demo is False


def test_demo_can_be_forced_either_way():
    assert Settings.load({"SHAREDESK_DEMO": "1", "AWS_PROFILE": "prod"}, {}).demo is True
    assert Settings.load({"SHAREDESK_DEMO": "0"}, {}).demo is False
    with pytest.raises(SettingsError, match="set it to 1, 0 or auto"):
        Settings.load({"SHAREDESK_DEMO": "maybe"}, {})


def test_environment_wins_over_secrets():
    secrets = {"sharedesk": {"buckets": ["a-bucket", "b-bucket"], "signing_role_arn": "arn:aws:iam::1:role/from-secrets"}}
    settings = Settings.load({"SHAREDESK_DEMO": "0", "SHAREDESK_SIGNING_ROLE_ARN": "arn:aws:iam::1:role/from-env"}, secrets)
    assert settings.buckets == ("a-bucket", "b-bucket")
    assert settings.signing_role_arn == "arn:aws:iam::1:role/from-env"


def test_secrets_never_show_in_the_settings_repr():
    settings = Settings.load({"SHAREDESK_DEMO": "0", "SHAREDESK_SIGNER_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG"}, {})
    assert "wJalrXUtnFEMI" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHAREDESK_PAGE_SIZE": "lots"}, "whole number"),
        ({"SHAREDESK_PAGE_SIZE": "5000"}, "between 1 and 1000"),
        ({"SHAREDESK_SIGNATURE_AGE_CAP": "soon"}, "not a duration"),
        ({"SHAREDESK_SIGNING_ROLE_SOURCE": "root"}, "use one of ambient, signer-user"),
        ({"SHAREDESK_CLOUDFRONT_PRIVATE_KEY_FILE": "/nonexistent/key.pem"}, "cannot be read"),
    ],
)
def test_bad_settings_are_sentences(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.load({"SHAREDESK_DEMO": "0", **env}, {})


def test_default_log_lives_in_the_state_folder(tmp_path):
    settings = Settings.load({"SHAREDESK_STATE_DIR": str(tmp_path)}, {})
    assert settings.database_url == str(tmp_path / "demo-log.sqlite3")


def test_every_setting_is_in_the_readme_table():
    readme = README.read_text()
    for name, _default, _meaning in SETTINGS_DOC:
        assert f"| `{name}` |" in readme, f"{name} is missing from the README's configuration table"


@pytest.mark.parametrize(("text", "seconds"), [(None, 300), ("0", 0), ("1m", 60), ("5m", 300), ("900", 900), ("1h", 3600), (" 30M ", 1800)])
def test_cut_short_tolerance_is_read_as_seconds(text, seconds):
    env = {} if text is None else {"SHAREDESK_CUT_SHORT_TOLERANCE": text}
    assert Settings.load(env, {}).cut_short_tolerance_seconds == seconds


@pytest.mark.parametrize("text", ["7m", "2h", "-5m", "soon", "90s"])
def test_a_tolerance_the_audit_cannot_count_exactly_is_refused_with_a_sentence(text):
    with pytest.raises(SettingsError, match=r"SHAREDESK_CUT_SHORT_TOLERANCE is .*: set it to 0, 1m, 2m, 5m, 10m, 15m, 30m or 1h\.$"):
        Settings.load({"SHAREDESK_CUT_SHORT_TOLERANCE": text}, {})
