"""The sharing policy: who has which role, what each role may browse and share, for how long, and what it may revoke.

The table tests run on the pure policy; the service tests run the issuing,
stable-link and listing services against moto with a policy file, so the
same refusals reach every caller.
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from dashboard import catalog, policy
from dashboard.errors import NotAllowed
from dashboard.identity import Identity, Source, flatten_claims, named
from dashboard.policy import BUILT_IN, PolicyError, parse

POLICY = """
default_role = "viewer"

[members]
agent = ["group:support", "user:ann@example.com"]
lead = ["group:support-leads", "claim:department=support-ops"]
admin = ["user:root@example.com"]

[roles.viewer]
browse = ["reports-bucket/reports/"]

[roles.agent]
browse = ["*"]
share = ["reports-bucket/reports/", "files-bucket/données/", "files-bucket/acme"]
revoke = "own"
extend = "own"

[roles.agent.max_lifetime]
ambient = "1h"
iam-user = "2d"
stable = "7d"

[roles.lead]
browse = ["*"]
share = ["reports-bucket", "files-bucket"]
revoke = "any"
extend = "own"

[roles.lead.max_lifetime]
"*" = "30d"
iam-user = "7d"

[roles.admin]
browse = ["*"]
share = ["*"]
revoke = "any"
extend = "any"

[roles.admin.max_lifetime]
"*" = "365d"
"""

RULES = parse(POLICY, "test-policy.toml")
H, D = timedelta(hours=1), timedelta(days=1)


def person(name: str, **claims: object) -> Identity:
    return Identity(name=name, source=Source.OIDC, claims=flatten_claims({"email": name, **claims}))


ANN = person("ann@example.com")  # agent by name
SAM = person("sam@example.com", groups=["support"])  # agent by group
LEA = person("lea@example.com", groups=["support", "support-leads"])  # lead beats agent
OPS = person("ops@example.com", department="support-ops")  # lead by claim
ROOT = person("root@example.com")
STRANGER = person("stranger@example.com")  # the default role: viewer

NFD = unicodedata.normalize("NFD", "données/clients été.csv")
CYRILLIC_A = "\u0430cme/x.pdf"  # looks like acme/x.pdf

SHARE_CASES = [
    # (who, bucket, key, strategy, lifetime, refusal fragment or None)
    ("agent", SAM, "reports-bucket", "reports/q3.pdf", "iam-user", D, None),
    ("agent by name", ANN, "reports-bucket", "reports/2026/q3.pdf", "stable", 7 * D, None),
    ("prefix is a path segment, not a string prefix", SAM, "reports-bucket", "reports-archive/q3.pdf", "iam-user", H, "roles.agent.share"),
    ("the folder itself is not an object in it", SAM, "reports-bucket", "reports", "iam-user", H, "roles.agent.share"),
    ("a/../b escapes nothing", SAM, "reports-bucket", "reports/../secret/plan.pdf", "iam-user", H, "roles.agent.share"),
    ("nor does b/../a", SAM, "reports-bucket", "secret/../reports/q3.pdf", "iam-user", H, "roles.agent.share"),
    ("nor climbing above the root", SAM, "reports-bucket", "../reports/q3.pdf", "iam-user", H, "roles.agent.share"),
    ("a dot segment stays inside", SAM, "reports-bucket", "reports/./q3.pdf", "iam-user", H, None),
    ("a double slash stays inside", SAM, "reports-bucket", "reports//q3.pdf", "iam-user", H, None),
    ("keys are case-sensitive", SAM, "reports-bucket", "Reports/q3.pdf", "iam-user", H, "roles.agent.share"),
    ("NFD spelling matches an NFC grant", SAM, "files-bucket", NFD, "iam-user", H, None),
    ("a grant without its trailing slash is a folder", SAM, "files-bucket", "acme/invoice.pdf", "iam-user", H, None),
    ("…and still not a string prefix", SAM, "files-bucket", "acme-corp/invoice.pdf", "iam-user", H, "roles.agent.share"),
    ("a Cyrillic look-alike is another folder", SAM, "files-bucket", CYRILLIC_A, "iam-user", H, "roles.agent.share"),
    ("another bucket", SAM, "secret-bucket", "reports/q3.pdf", "iam-user", H, "roles.agent.share"),
    ("lifetime over the strategy's cap", SAM, "reports-bucket", "reports/q3.pdf", "ambient", 2 * H, "roles.agent.max_lifetime.ambient"),
    ("lifetime at the cap", SAM, "reports-bucket", "reports/q3.pdf", "ambient", H, None),
    ("a strategy the role has no lifetime for", SAM, "reports-bucket", "reports/q3.pdf", "cloudfront", H, "no lifetime for cloudfront"),
    ("stable over its cap", ANN, "reports-bucket", "reports/q3.pdf", "stable", 8 * D, "roles.agent.max_lifetime.stable"),
    ("lead by group, any key of its buckets", LEA, "files-bucket", "anything/at/all.bin", "cloudfront", 30 * D, None),
    ("a strategy's own entry beats *", LEA, "reports-bucket", "reports/q3.pdf", "iam-user", 8 * D, "roles.lead.max_lifetime.iam-user"),
    ("lead by claim", OPS, "reports-bucket", "reports-archive/q3.pdf", "stable", 30 * D, None),
    ("lead's buckets only", OPS, "secret-bucket", "x.pdf", "stable", D, "roles.lead.share"),
    ("admin shares anything", ROOT, "secret-bucket", "x.pdf", "cloudfront", 365 * D, None),
    ("viewer shares nothing", STRANGER, "reports-bucket", "reports/q3.pdf", "iam-user", H, "roles.viewer.share"),
    ("nobody", None, "reports-bucket", "reports/q3.pdf", "iam-user", H, "does not know who"),
]


@pytest.mark.parametrize(("case", "who", "bucket", "key", "strategy", "lifetime", "refused"), SHARE_CASES, ids=[c[0] for c in SHARE_CASES])
def test_share_cases(case, who, bucket, key, strategy, lifetime, refused):
    refusal = RULES.share_refusal(who, bucket, key, strategy, lifetime)
    if refused is None:
        assert refusal is None, refusal
    else:
        assert refusal is not None and refused in refusal
        assert refusal.count(". ") == 0 and refusal.endswith("."), refusal  # one sentence


def test_refusals_name_the_rule_and_what_it_covers():
    refusal = RULES.share_refusal(SAM, "reports-bucket", "reports-archive/q3.pdf", "iam-user", H)
    assert refusal == (
        "The sharing policy (roles.agent.share) does not let agent share s3://reports-bucket/reports-archive/q3.pdf: "
        "it covers s3://reports-bucket/reports/, s3://files-bucket/données/, s3://files-bucket/acme/."
    )
    assert RULES.share_refusal(SAM, "reports-bucket", "reports/q3.pdf", "iam-user", 3 * D) == (
        "The sharing policy (roles.agent.max_lifetime.iam-user) lets agent issue iam-user links for at most 2 days: ask for less, or choose another strategy."
    )


ROLE_CASES = [(ANN, "agent"), (SAM, "agent"), (LEA, "lead"), (OPS, "lead"), (ROOT, "admin"), (STRANGER, "viewer"), (None, "viewer")]


@pytest.mark.parametrize(("who", "role"), ROLE_CASES, ids=[w.name if w else "nobody" for w, _ in ROLE_CASES])
def test_roles_come_from_names_groups_and_claims_highest_wins(who, role):
    assert RULES.role_name_for(who) == role


def test_a_name_matches_whatever_its_case_or_normal_form():
    assert RULES.role_name_for(named("Ann@Example.com")) == "agent"


def test_a_name_alone_never_earns_a_groups_role():
    assert RULES.role_name_for(named("lea@example.com")) == "viewer"


RIGHTS_CASES = [
    # (who, action, issuer of the link, refusal fragment or None)
    (ANN, "revoke", "ann@example.com", None),
    (ANN, "revoke", "bob@example.com", 'roles.agent.revoke = "own"'),
    (LEA, "revoke", "bob@example.com", None),
    (STRANGER, "revoke", "stranger@example.com", 'roles.viewer.revoke = "none"'),
    (ANN, "extend", "ann@example.com", None),
    (LEA, "extend", "bob@example.com", 'roles.lead.extend = "own"'),
    (ROOT, "extend", "bob@example.com", None),
    (None, "revoke", "bob@example.com", "does not know who"),
]


@pytest.mark.parametrize(("who", "action", "issuer", "refused"), RIGHTS_CASES)
def test_revoke_and_extend_rights(who, action, issuer, refused):
    if refused is None:
        RULES.check_rights(who, action, issuer)
    else:
        with pytest.raises(NotAllowed, match=refused):
            RULES.check_rights(who, action, issuer)


def test_an_extension_is_capped_by_the_roles_stable_lifetime():
    policy.check_extension(RULES, ANN, "ann@example.com", 7 * D)
    with pytest.raises(NotAllowed, match=r"roles\.agent\.max_lifetime\.stable.*at most 7 days"):
        policy.check_extension(RULES, ANN, "ann@example.com", 10 * D)


BROWSE_CASES = [
    (STRANGER, "reports-bucket", "", True),  # passes through the root to reach reports/
    (STRANGER, "reports-bucket", "reports/", True),
    (STRANGER, "reports-bucket", "reports/2026/", True),
    (STRANGER, "reports-bucket", "reports/2026/q", True),  # a search inside a granted folder
    (STRANGER, "reports-bucket", "rep", True),  # a search at the root: results are filtered
    (STRANGER, "reports-bucket", "reports-archive/", False),
    (STRANGER, "reports-bucket", "reports/../secret/", False),
    (STRANGER, "files-bucket", "", False),
    (SAM, "secret-bucket", "anything/", True),
]


@pytest.mark.parametrize(("who", "bucket", "prefix", "allowed"), BROWSE_CASES)
def test_browse_cases(who, bucket, prefix, allowed):
    if allowed:
        RULES.check_browse(who, bucket, prefix)
    else:
        with pytest.raises(NotAllowed, match=r"roles\.\w+\.browse"):
            RULES.check_browse(who, bucket, prefix)


def test_the_click_rule_refuses_objects_no_role_may_share_as_stable_links():
    assert RULES.click_refusal("reports-bucket", "reports-archive/q3.pdf") is None  # the lead may
    assert RULES.click_refusal("secret-bucket", "x.pdf") is None  # the admin may
    strict = parse('[roles.agent]\nshare = ["b-bucket/reports/"]\n[roles.agent.max_lifetime]\nstable = "1d"\n', "strict.toml")
    assert strict.click_refusal("b-bucket", "reports/q3.pdf") is None
    assert "no longer lets any role share s3://b-bucket/reports-archive/q3.pdf" in (strict.click_refusal("b-bucket", "reports-archive/q3.pdf") or "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[roles.boss]\nshare = ["*"]', "the roles are viewer, agent, lead, admin"),
        ('[roles.agent]\nrevoke = "some"', 'use "none", "own" or "any"'),
        ('[roles.agent.max_lifetime]\nstable = "forever"', "max_lifetime.stable = 'forever'"),
        ('[members]\nagent = ["alice"]', "write user:NAME, group:NAME or claim:NAME=VALUE"),
        ('[roles.agent]\nshare = ["b-bucket/a/../b/"]', "without empty, . or .. parts"),
        ('default_role = "root"', "use one of viewer, agent, lead, admin"),
        ("[roles.agent\n", "is not valid TOML"),
        ('colour = "blue"', "which it does not know"),
        ('[roles.agent]\nshares = ["*"]', "roles.agent.shares, which it does not know"),
    ],
)
def test_a_bad_policy_file_is_a_sentence_naming_the_entry(text, message):
    with pytest.raises(PolicyError, match=message.replace(".", r"\.").replace("(", r"\(").replace("*", r"\*")):
        parse(text, "bad.toml")


def test_the_built_in_policies_parse_and_say_what_the_readme_says():
    demo = policy.load(BUILT_IN / "demo.toml")
    assert demo.role_name_for(named("anyone")) == "lead" and demo.role_name_for(named("alice")) == "agent"
    assert demo.role_name_for(named("viewer")) == "viewer" and demo.role_name_for(named("admin")) == "admin"
    default = policy.load(BUILT_IN / "default.toml")
    assert default.role_name_for(named("anyone@example.com")) == "agent"
    assert default.share_refusal(named("a@example.com"), "any-bucket", "any/key", "cloudfront", 365 * D) is None
    with pytest.raises(NotAllowed, match="only their own links"):
        default.check_rights(named("a@example.com"), "revoke", "b@example.com")


def test_an_edited_policy_file_applies_without_a_restart(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text('default_role = "agent"\n[roles.agent]\nshare = ["b-bucket/a/"]\n[roles.agent.max_lifetime]\n"*" = "1d"\n')
    assert policy.load(path).share_refusal(named("x"), "b-bucket", "b/k", "stable", H) is not None
    path.write_text('default_role = "agent"\n[roles.agent]\nshare = ["b-bucket/b/"]\n[roles.agent.max_lifetime]\n"*" = "1d"\n  ')
    assert policy.load(path).share_refusal(named("x"), "b-bucket", "b/k", "stable", H) is None


def test_a_missing_policy_file_is_a_sentence(tmp_path):
    from dashboard.config import Settings

    with pytest.raises(PolicyError, match="SHAREDESK_POLICY_FILE points to .*cannot be read"):
        policy.policy_for(Settings(demo=False, policy_file=str(tmp_path / "nope.toml")))


# --- the services obey it ------------------------------------------------------------------


@pytest.fixture
def policy_file(tmp_path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def listing_s3():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="reports-bucket")
        for key in ("top.txt", "reports/q3.pdf", "reports/2026/q1.pdf", "reports-archive/q3.pdf", "secret/plan.pdf"):
            s3.put_object(Bucket="reports-bucket", Key=key, Body=b"x")
        s3.create_bucket(Bucket="files-bucket")
        yield s3


def test_listing_shows_a_viewer_only_the_way_to_its_grant(listing_s3):
    root = catalog.list_browsable_page(listing_s3, RULES, STRANGER, "reports-bucket", "")
    assert [f.prefix for f in root.folders] == ["reports/"] and root.objects == ()
    inside = catalog.list_browsable_page(listing_s3, RULES, STRANGER, "reports-bucket", "reports/")
    assert [o.key for o in inside.objects] == ["reports/q3.pdf"] and [f.prefix for f in inside.folders] == ["reports/2026/"]
    with pytest.raises(NotAllowed, match=r"roles\.viewer\.browse"):
        catalog.list_browsable_page(listing_s3, RULES, STRANGER, "reports-bucket", "reports-archive/")
    assert catalog.browsable_buckets(listing_s3, (), RULES, STRANGER) == ["reports-bucket"]
    assert catalog.browsable_buckets(listing_s3, (), RULES, SAM) == ["files-bucket", "reports-bucket"]


def test_the_readme_example_policy_parses_and_means_what_it_says():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    text = readme.split("## Sharing policy", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    rules = parse(text, "README.md")
    assert rules.role_name_for(person("x@example.com", department="support-ops")) == "lead"
    assert rules.share_refusal(SAM, "reports-bucket", "reports-archive/q3.pdf", "iam-user", H) is not None
    assert rules.share_refusal(SAM, "files-bucket", "customers/acme/x.pdf", "cloudfront", D) is None  # "*" = "1d"


def test_outside_the_demo_no_identity_means_no_issuing_revoking_or_extending(tmp_path):
    from dashboard import issuing, stable_admin
    from dashboard.aws import Aws
    from dashboard.config import Settings
    from dashboard.desk import Desk
    from dashboard.errors import BadInput
    from dashboard.strategies import ShareRequest

    settings = Settings(demo=False, database_url=str(tmp_path / "log.sqlite3"), state_dir=tmp_path, buckets=("b-bucket",))
    desk = Desk(settings=settings, aws=Aws(settings))
    with pytest.raises(BadInput, match="does not know who is issuing"):
        issuing.issue(desk, [ShareRequest(bucket="b-bucket", key="k.pdf", lifetime=H, issuer=" ")], "iam-user")
    with pytest.raises(BadInput, match="does not know who is revoking"):
        stable_admin.revoke(desk, 1, "")
    with pytest.raises(BadInput, match="does not know who is extending"):
        stable_admin.extend(desk, 1, "", datetime_now_plus(D))
    assert desk.log.count() == 0


def datetime_now_plus(delta: timedelta):
    from datetime import UTC, datetime

    return datetime.now(UTC) + delta
