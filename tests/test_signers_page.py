"""The Signers page on the demo: every signer, each strategy's reach, links at risk (re-issued after asking), rotation impact.

A separate module from tests/test_signers.py on purpose: that one keeps a
moto world open for the whole module, which the demo's own backends must not
share.
"""

from __future__ import annotations

from datetime import timedelta

from streamlit.testing.v1 import AppTest

from dashboard import demo, issuing, signers
from dashboard.strategies import ShareRequest
from tests.test_pages import NAVIGATION, texts
from tests.test_signers import DeniedIam, with_iam

D = timedelta(days=1)


def open_signers() -> AppTest:
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    at.run()
    at.switch_page("../../pages/signers.py").run()
    return at


def test_signers_page_shows_every_signer_reach_risk_and_rotation_on_the_demo(demo_desk):
    (link,) = issuing.issue(demo_desk, [ShareRequest(bucket=demo.SUPPORT_BUCKET, key="README.txt", lifetime=D, issuer="alice", ticket="TCK-RISK")], "ambient")
    at = open_signers()
    assert not at.exception and not at.error
    shown = texts(at).replace("\\", "").replace("\u2060", "")  # read through the Markdown escapes
    assert "the ECS/Fargate task role (or EKS Pod Identity)" in shown and "container-role" in shown
    assert demo.SIGNER_KEY_ID in shown and demo.CLOUDFRONT_KEY_PAIR_ID in shown and "arn:aws:iam::123456789012:role/sharedesk-signer" in shown
    assert "12 hours" in shown  # the signing role's MaxSessionDuration
    assert [m.label for m in at.metric][0] == "Expires in" and "left" in at.metric[0].value
    reach = at.dataframe[0].value
    assert set(reach["Strategy"]) == {"ambient", "role-session", "iam-user", "cloudfront", "stable"}
    assert reach.set_index("Strategy").loc["iam-user", "Longest real life now"] == "7 days"
    risky = at.dataframe[1].value
    assert link.entry.id in list(risky["Log id"])
    rotation = {m.label: m.value for m in at.metric}
    signer_links, cf_links = signers.rotation_impact(demo_desk)
    assert rotation["Live links that depend on the signer user's key"] == f"{len(signer_links.links):,}"
    assert rotation["Live links that depend on the CloudFront key pair"] == f"{len(cf_links.links):,}"


def test_signers_page_reissues_an_at_risk_link_after_asking(demo_desk):
    (link,) = issuing.issue(demo_desk, [ShareRequest(bucket=demo.SUPPORT_BUCKET, key="manuals/user guide.pdf", lifetime=D, issuer="alice", ticket="TCK-RESCUE")], "ambient")
    at = open_signers()
    at.text_input(key="sharedesk.issuer").input("lead").run()
    ids = list(at.dataframe[1].value["Log id"])
    at.session_state["signers.at_risk"] = {"selection": {"rows": [ids.index(link.entry.id)], "columns": []}}
    at.run()
    before = demo_desk.log.count()
    at.button(key=f"signers.rescue:{link.entry.id}").click().run()
    assert demo_desk.log.count() == before  # asking first: nothing issued yet
    at.button(key="signers.issue").click().run()
    assert not at.exception
    assert demo_desk.log.count() == before + 1
    urls = [c.value for c in at.code if c.value.startswith("http")]
    assert len(urls) == 1 and "/s/" in urls[0]
    message = next(c.value for c in at.code if c.value.startswith("Hello"))
    assert urls[0] in message


def test_signers_page_without_iam_read_permissions_says_so_without_an_error(demo_desk, monkeypatch):
    with_iam(demo_desk, DeniedIam(), monkeypatch)
    at = open_signers()
    assert not at.exception and not at.error
    infos = " ".join(i.value for i in at.info).replace("\\", "").replace("\u2060", "")  # read through the Markdown escapes
    assert "lacks iam:GetRole" in infos and "lacks iam:GetAccessKeyLastUsed" in infos
    assert demo.SIGNER_KEY_ID in texts(at)  # what the desk knows without IAM is still there
