"""The sharing policy refuses the same things, with the same sentence, on the pages, the command line and the resolver.

All three run on the test session's demo desk with one policy file: the
pages through AppTest (the process desk), the command line through
`dashboard.cli.main` (which opens its own desk from the environment), the
resolver through Starlette's test client.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest

from dashboard import demo, issuing, policy
from dashboard.cli import main
from dashboard.errors import NotAllowed
from dashboard.identity import named
from dashboard.links import standalone_app
from dashboard.strategies import ShareRequest
from tests.test_pages import NAVIGATION, texts

POLICY = """
default_role = "lead"

[members]
agent = ["user:agent-ann"]

[roles.agent]
browse = ["*"]
share = ["sharedesk-demo-support/customers/acme/"]
revoke = "own"
extend = "own"

[roles.agent.max_lifetime]
iam-user = "2h"
stable = "2d"

[roles.lead]
browse = ["*"]
share = ["sharedesk-demo-support/customers/"]
revoke = "any"
extend = "any"

[roles.lead.max_lifetime]
"*" = "30d"
"""

GLOBEX = "customers/globex/exports/report+final v2.xlsx"
ACME = "customers/acme/invoices/2026-10 invoice.pdf"


@pytest.fixture
def rules(demo_desk, tmp_path, monkeypatch) -> policy.Policy:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    monkeypatch.setattr(demo_desk, "settings", demo_desk.settings.replace(policy_file=str(path)))  # the pages' and the resolver's desk
    monkeypatch.setenv("SHAREDESK_POLICY_FILE", str(path))  # the command line's own desk
    return policy.load(path)


def share_page(key: str, name: str, preset: str = "1 h") -> AppTest:
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    at.session_state["sharedesk.selection"] = {
        f"s3://{demo.SUPPORT_BUCKET}/{key}": {"bucket": demo.SUPPORT_BUCKET, "key": key, "size": 1, "storage_class": "STANDARD"}
    }
    at.run()
    at.switch_page("../../pages/share.py").run()
    at.text_input(key="sharedesk.issuer").input(name).run()
    at.segmented_control(key="share.preset").set_value(preset).run()
    assert not at.exception
    return at


def cli(capsys, *args: str) -> tuple[int, str]:
    """Exit status and the command's own stderr lines (Streamlit's loggers may also write there in-process)."""
    code = main(list(args))
    captured = capsys.readouterr()
    assert not captured.out if code else True
    return code, "".join(line + "\n" for line in captured.err.splitlines() if line.startswith("dashboard: "))


@pytest.mark.parametrize(
    ("case", "who", "key", "preset", "cli_lifetime"),
    [
        ("an object outside the role's folders", "agent-ann", GLOBEX, "1 h", "1h"),
        ("a lifetime over the role's cap", "agent-ann", ACME, "12 h", "12h"),
        ("an object outside every role's folders", "lead-lee", "README.txt", "1 h", "1h"),
    ],
)
def test_page_and_command_line_refuse_with_the_same_sentence(demo_desk, rules, capsys, case, who, key, preset, cli_lifetime):
    lifetime = {"1h": timedelta(hours=1), "12h": timedelta(hours=12)}[cli_lifetime]
    sentence = rules.share_refusal(named(who), demo.SUPPORT_BUCKET, key, "iam-user", lifetime)
    assert sentence is not None

    before = demo_desk.log.count()
    page = share_page(key, who, preset)
    assert sentence in texts(page)  # the iam-user row of the preview gives the reason
    assert "iam-user" not in [o for r in page.radio for o in r.options]  # and it cannot be chosen

    code, err = cli(capsys, "issue", f"s3://{demo.SUPPORT_BUCKET}/{key}", "--strategy", "iam-user", "--expires-in", cli_lifetime, "--issuer", who)
    assert (code, err) == (2, f"dashboard: {sentence}\n")

    with pytest.raises(NotAllowed) as refused:
        issuing.issue(demo_desk, [ShareRequest(bucket=demo.SUPPORT_BUCKET, key=key, lifetime=lifetime, issuer=who)], "iam-user")
    assert str(refused.value) == sentence
    assert demo_desk.log.count() == before  # nothing was signed or logged


def test_a_click_on_a_withdrawn_object_gets_the_withdrawn_page_and_is_recorded(demo_desk, tmp_path, monkeypatch):
    acme = ShareRequest(bucket=demo.SUPPORT_BUCKET, key=ACME, lifetime=timedelta(days=1), issuer="lead-lee")
    readme = ShareRequest(bucket=demo.SUPPORT_BUCKET, key="README.txt", lifetime=timedelta(days=1), issuer="lead-lee")
    kept, withdrawn = issuing.issue(demo_desk, [acme, readme], "stable")  # under the demo's own policy
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    monkeypatch.setattr(demo_desk, "settings", demo_desk.settings.replace(policy_file=str(path)))
    with TestClient(standalone_app(lambda: demo_desk), follow_redirects=False) as client:
        assert client.get(kept.url.split(demo_desk.settings.public_base_url or "", 1)[1]).status_code == 302
        answer = client.get(withdrawn.url.split(demo_desk.settings.public_base_url or "", 1)[1])
    assert answer.status_code == 403 and "sharing policy no longer allows" in answer.text
    assert [c.status for c in demo_desk.log.clicks_for(withdrawn.entry.id)] == [403]
    # …and what the resolver refuses, the Share page and the command line refuse too.
    rules = policy.load(path)
    assert rules.click_refusal(demo.SUPPORT_BUCKET, "README.txt") is not None
    assert rules.share_refusal(named("lead-lee"), demo.SUPPORT_BUCKET, "README.txt", "stable", timedelta(days=1)) is not None
    assert rules.click_refusal(demo.SUPPORT_BUCKET, ACME) is None


def test_revoking_someone_elses_link_is_refused_alike_on_the_page_and_the_command_line(demo_desk, rules, capsys):
    link = issuing.issue(demo_desk, [ShareRequest(bucket=demo.SUPPORT_BUCKET, key=ACME, lifetime=timedelta(days=1), issuer="bob")], "stable")[0]
    sentence = 'The sharing policy (roles.agent.revoke = "own") lets agent revoke only their own links, and this one was issued by bob: ask a lead.'

    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    at.run()
    at.switch_page("../../pages/stable_links.py").run()
    ids = list(at.dataframe[0].value["id"])
    at.session_state["stable.table"] = {"selection": {"rows": [ids.index(link.entry.id)], "columns": []}}
    at.run()
    at.text_input(key="sharedesk.issuer").input("agent-ann").run()
    at.button(key="stable.revoke").click().run()
    assert not at.exception
    assert at.error[0].value == sentence

    code, err = cli(capsys, "revoke", link.url, "--by", "agent-ann")
    assert (code, err) == (2, f"dashboard: {sentence}\n")
    assert demo_desk.log.get(link.entry.id).revoked_at is None

    code, _ = cli(capsys, "revoke", link.url, "--by", "lead-lee")  # a lead may
    assert code == 0 and demo_desk.log.get(link.entry.id).revoked_by == "lead-lee"


def test_browsing_outside_the_roles_grants_is_refused_by_the_command_line_as_by_the_page(demo_desk, tmp_path, monkeypatch, capsys):
    path = tmp_path / "policy.toml"
    path.write_text('default_role = "viewer"\n[roles.viewer]\nbrowse = ["sharedesk-demo-support/manuals/"]\n')
    monkeypatch.setattr(demo_desk, "settings", demo_desk.settings.replace(policy_file=str(path)))
    monkeypatch.setenv("SHAREDESK_POLICY_FILE", str(path))
    code, err = cli(capsys, "ls", f"s3://{demo.SUPPORT_BUCKET}/customers/")
    assert code == 2 and "roles.viewer.browse" in err
    assert main(["ls", f"s3://{demo.SUPPORT_BUCKET}/"]) == 0
    shown = capsys.readouterr().out
    assert "manuals/" in shown and "customers/" not in shown and "README.txt" not in shown
    assert main(["ls"]) == 0
    assert capsys.readouterr().out.split() == [f"s3://{demo.SUPPORT_BUCKET}/"]

    page = AppTest.from_file(NAVIGATION, default_timeout=60)
    page.query_params.update(bucket=demo.SUPPORT_BUCKET, prefix="customers/")
    page.run()
    assert not page.exception
    assert "roles.viewer.browse" in page.error[0].value and err.strip().endswith(page.error[0].value)
    root = AppTest.from_file(NAVIGATION, default_timeout=60)
    root.query_params.update(bucket=demo.SUPPORT_BUCKET, prefix="")
    root.run()
    assert [b.label for b in root.button if b.key and b.key.startswith("folder:")] == ["manuals/"]
    assert [s.options for s in root.selectbox][0] == [demo.SUPPORT_BUCKET]
    assert not root.dataframe  # README.txt at the root is outside the grant
