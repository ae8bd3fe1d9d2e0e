"""Links as they arrive: found in sentences, e-mails, wrapped lines, chat syntax and mail-security wrappers.

Every example is built here from the format's public description (RFC 2045
quoted-printable, Microsoft's Safe Links ``url=`` parameter, Proofpoint's
v1/v2/v3 encodings, Google's ``/url?q=``...), around AWS's documented SigV4
example link, so the expected link is always known exactly.
"""

from __future__ import annotations

import base64
import quopri
import textwrap
from urllib.parse import quote

import pytest

from dashboard.inspect import explain_paste, lookup
from dashboard.paste import Found, find_links, unwrap
from dashboard.store import IssuanceLog
from dashboard.urlparse import LinkKind, LinkParseError

# AWS's documented SigV4 query-string example (GET /test.txt, 24 May 2013, 86400 s).
AWS = (
    "https://examplebucket.s3.amazonaws.com/test.txt"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
)
# AWS's documented CloudFront canned-policy example.
CLOUDFRONT = (
    "https://d111111abcdef8.cloudfront.net/image.jpg"
    "?Expires=1357034400&Signature=nitfHRCrtziwO2HwPfWw~yYDhUF5EwRunQA-j19DzZrvDh6hQ73lDx~-ar3UocvvRQVw6EkC~GdpGQyyOSKQim-"
    "TxAnW7d8F5Kkai9HVx0FIu-5jcQb0UEmatEXAMPLE3ReXySpLSMj0yCd3ZAB4UcBCAqEijkytL6f3fVYNGQI6&Key-Pair-Id=K2JCJMDEHXQW5F"
)
STABLE = "https://desk.example.com/s/Q2hhbmdlTWUtdGhpcy1pcy1hLXRva2Vu"


def only(text: str) -> Found:
    (found,) = find_links(text)
    return found


def assert_finds_aws(text: str, *note_fragments: str) -> Found:
    found = only(text)
    assert found.url == AWS and found.link.kind is LinkKind.S3_SIGV4 and found.link.bucket == "examplebucket"
    for fragment in note_fragments:
        assert any(fragment in note for note in found.notes), (fragment, found.notes)
    return found


# --------------------------------------------------------------------------- the link alone and in prose


def test_a_link_alone_is_read_as_it_is_with_nothing_to_say() -> None:
    found = only(f"  {AWS}\n")
    assert found.url == AWS and found.notes == ()


def test_a_link_in_a_sentence_is_found_and_its_trailing_full_stop_dropped() -> None:
    assert_finds_aws(f"Hi team, the customer says {AWS}. stopped working after an hour, can you check?", "text around it")


@pytest.mark.parametrize("punctuation", [".", ",", ";", ":", "!", "?", "...", "!?", ")."])
def test_trailing_punctuation_is_not_part_of_the_link(punctuation: str) -> None:
    text = f"It was this one: {AWS}{punctuation}" if not punctuation.startswith(")") else f"(it was {AWS}{punctuation}"
    assert_finds_aws(text)


def test_angle_brackets_delimit_a_link_as_rfc_3986_appendix_c_suggests() -> None:
    assert_finds_aws(f"The link <{AWS}> has expired.")
    assert_finds_aws(f"See <URL:{AWS}>")


@pytest.mark.parametrize("quote_char", ['"', "'", "`", "“"])
def test_quotes_around_a_link_are_not_part_of_it(quote_char: str) -> None:
    closing = {"“": "”"}.get(quote_char, quote_char)
    assert_finds_aws(f"He clicked {quote_char}{AWS}{closing} twice")


def test_parentheses_around_a_link_are_dropped_but_a_balanced_pair_inside_is_kept() -> None:
    assert_finds_aws(f"the file (see {AWS}) is gone")
    key = "https://examplebucket.s3.amazonaws.com/report(1).pdf" + AWS[AWS.index("?") :]
    (found,) = find_links(f"(here: {key})")
    assert found.link.key == "report(1).pdf"


def test_a_markdown_link_gives_its_target() -> None:
    assert_finds_aws(f"Please use [this download link]({AWS}) instead.")
    assert len(find_links(f"[{AWS}]({AWS})")) == 1  # the same link twice is one link


def test_slack_link_syntax_gives_the_url_not_the_label() -> None:
    assert_finds_aws(f"<{AWS}|the report> from yesterday")
    assert_finds_aws(f"<{AWS}>")


def test_wiki_link_syntax_gives_the_url() -> None:
    assert_finds_aws(f"[the report|{AWS}]")


# --------------------------------------------------------------------------- e-mail encodings


def test_html_escaping_of_ampersands_is_undone() -> None:
    assert_finds_aws(AWS.replace("&", "&amp;"), "&amp;")
    html = f'<p>Your file: <a href="{AWS.replace("&", "&amp;")}" target="_blank">download</a></p>'
    assert_finds_aws(html, "&amp;", "text around it")


def test_numeric_character_references_and_wbr_tags_are_undone() -> None:
    mangled = AWS.replace("=", "&#x3D;").replace("&X-Amz-Date", "&#38;<wbr>X-Amz-Date")
    assert_finds_aws(mangled)
    assert_finds_aws(AWS.replace("X-Amz-Signature", "X-Amz-\u00adSigna\u200bture"))  # soft hyphen and zero-width space


def test_quoted_printable_is_decoded_with_its_soft_line_breaks() -> None:
    # RFC 2045 6.7: '=' is written =3D, and lines longer than 76 characters end in a soft break '='.
    body = quopri.encodestring(f"Hello,\n\nHere is your link: {AWS}\n\nRegards".encode()).decode()
    assert "=3D" in body and "=\n" in body
    assert_finds_aws(body, "quoted-printable")


def test_quoted_printable_html_part_is_decoded_then_unescaped() -> None:
    html = f'<html><body><p>Your file: <a href="{AWS.replace("&", "&amp;")}">download</a></p></body></html>'
    encoded = quopri.encodestring(html.encode()).decode()
    assert 'href=3D"' in encoded and "&amp;" in encoded
    assert_finds_aws(encoded, "quoted-printable", "&amp;")


def test_a_plain_link_is_never_mistaken_for_quoted_printable() -> None:
    # Its '=' signs are followed by AWS4…, host…: not an encoding.
    assert only(AWS).notes == ()
    assert only(CLOUDFRONT).url == CLOUDFRONT


def test_a_link_hard_wrapped_at_76_columns_is_rejoined() -> None:
    text = "\n".join(textwrap.wrap(f"Dear support, this link failed: {AWS}", 76, break_long_words=True, break_on_hyphens=False))
    assert all(len(line) <= 76 for line in text.splitlines()) and text.count("\n") >= 3
    assert_finds_aws(text + "\nThanks,\nBob", "rejoined")


def test_a_hard_wrapped_link_in_a_quoted_reply_is_rejoined() -> None:
    lines = textwrap.wrap(AWS, 72, break_long_words=True, break_on_hyphens=False)
    quoted = "On Monday you wrote:\n" + "\n".join(f"> {line}" for line in lines) + "\n>\n> Best"
    assert_finds_aws(quoted, "rejoined")


def test_a_short_line_is_not_glued_to_the_next_one() -> None:
    text = f"{STABLE}\nregards"
    found = only(text)
    assert found.url == STABLE


def test_a_wrap_that_could_be_read_two_ways_keeps_both_readings_for_the_log_to_decide() -> None:
    # A stable link that happens to fill a line exactly, followed by a word with no spaces: both read as tokens.
    line = "https://support-desk.example.com/s/" + "A" * (72 - 35)
    assert len(line) == 72
    (found,) = find_links(f"{line}\nBob")
    assert found.link.token == "A" * 37 + "Bob"
    assert [alt.token for alt in found.alternatives] == ["A" * 37]


# --------------------------------------------------------------------------- redirect wrappers


def test_microsoft_defender_safe_links_are_unwrapped() -> None:
    # Safe Links puts the original, percent-encoded, in url= and adds data=, sdata= and reserved=.
    wrapped = (
        "https://nam12.safelinks.protection.outlook.com/?url="
        + quote(AWS, safe="")
        + "&data=05%7C02%7Calice%40example.com%7C5d1c%7C72f988bf%7C0%7C0%7C638%7CUnknown&sdata=Zm9vYmFy%3D&reserved=0"
    )
    assert_finds_aws(wrapped, "Microsoft Defender Safe Links")
    assert_finds_aws(wrapped.replace("nam12.safelinks.protection.outlook.com", "gcc02.safelinks.protection.office365.us"))


def _proofpoint_v2(url: str) -> str:
    """Proofpoint v2: every byte but letters, digits and '.' as -XX, then '/' as '_'."""
    out = []
    for char in url:
        if char.isascii() and (char.isalnum() or char == "."):
            out.append(char)
        elif char == "/":
            out.append("_")
        else:
            out.extend(f"-{byte:02X}" for byte in char.encode())
    return "".join(out)


def test_proofpoint_url_defense_v2_is_decoded() -> None:
    wrapped = f"https://urldefense.proofpoint.com/v2/url?u={_proofpoint_v2(AWS)}&d=DwMFaQ&c=euGZstcaTDllvimEN8b7jXrwqOf-v5A_CdpgnVfiiMM&r=abc&m=def&s=ghi&e="
    assert "-252F" in wrapped  # the link's own %2F travels as -252F
    assert_finds_aws(wrapped, "Proofpoint URL Defense (v2)")


def test_proofpoint_url_defense_v1_is_decoded() -> None:
    wrapped = f"https://urldefense.proofpoint.com/v1/url?u={quote(AWS, safe='')}&k=oIvRg1%2BdGAgOoM1BIlLLqw%3D%3D%0A&r=abc&m=def&s=ghi"
    assert_finds_aws(wrapped, "Proofpoint URL Defense (v1)")


_V3_RUN_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"  # runs of 2, 3, 4...


def _proofpoint_v3(url: str, replace: str = "%") -> str:
    """Proofpoint v3: the link between ``__`` and ``__;``, each replaced character as ``*`` (a run of
    2 to 65 as ``**`` and a letter), the replaced characters, in order, as URL-safe base64 after the
    ``;``; then ``!!`` and the customer's tags."""
    masked, replaced, index = [], [], 0
    while index < len(url):
        run = 0
        while index + run < len(url) and url[index + run] in replace and run < 65:
            run += 1
        if run == 0:
            masked.append(url[index])
            index += 1
            continue
        masked.append("*" if run == 1 else "**" + _V3_RUN_LETTERS[run - 2])
        replaced.append(url[index : index + run])
        index += run
    encoded = base64.urlsafe_b64encode("".join(replaced).encode()).decode().rstrip("=")
    return f"https://urldefense.com/v3/__{''.join(masked)}__;{encoded}!!ACWV5N9M2RV99hQ!Mvk8y0tGgsDg3W$"


def test_proofpoint_url_defense_v3_is_decoded() -> None:
    wrapped = _proofpoint_v3(AWS)
    assert "*2F20130524" in wrapped
    assert_finds_aws(wrapped, "Proofpoint URL Defense (v3)")


def test_proofpoint_v3_runs_of_replaced_characters_are_decoded() -> None:
    url = AWS.replace("test.txt", "a&&&&b.txt")
    wrapped = _proofpoint_v3(url, replace="%&")
    assert "a**Cb.txt" in wrapped  # a run of four
    (found,) = find_links(wrapped)
    assert found.url == url and found.link.key == "a&&&&b.txt"


def test_a_proofpoint_v3_link_whose_replacements_do_not_add_up_is_refused_with_a_sentence() -> None:
    broken = _proofpoint_v3(AWS).replace("__;", "__;JQ")  # one replaced character too many
    with pytest.raises(LinkParseError, match="Proofpoint URL Defense \\(v3\\) address with no readable link"):
        find_links(broken)


@pytest.mark.parametrize(
    ("wrapped", "name"),
    [
        (f"https://www.google.com/url?q={quote(AWS, safe='')}&sa=D&source=hangouts&ust=1&usg=AOvVaw", "a Google redirect"),
        (f"https://www.google.co.uk/url?sa=t&url={quote(AWS, safe='')}&usg=AOvVaw", "a Google redirect"),
        (f"https://linkprotect.cudasvc.com/url?a={quote(AWS, safe='')}&c=E,1,abc&typo=1", "Barracuda Link Protection"),
        (f"https://imsva91-ctp.trendmicro.com:443/wis/clicktime/v1/query?url={quote(AWS, safe='')}&umid=1&auth=x", "Trend Micro"),
        (f"https://slack-redir.net/link?url={quote(AWS, safe='')}", "Slack's link redirect"),
        (f"https://l.facebook.com/l.php?u={quote(AWS, safe='')}&h=AT0", "Facebook's link shim"),
        (f"https://tracker.example.net/click?id=42&to={quote(AWS, safe='')}", "a redirect through tracker.example.net"),
    ],
    ids=["google-q", "google-url", "barracuda", "trendmicro", "slack", "facebook", "any-other"],
)
def test_search_engine_and_other_redirect_wrappers_are_unwrapped(wrapped: str, name: str) -> None:
    assert_finds_aws(wrapped, name)


def test_wrappers_inside_wrappers_are_all_removed_and_named() -> None:
    inner = f"https://urldefense.proofpoint.com/v2/url?u={_proofpoint_v2(AWS)}&d=DwMFaQ&c=x&r=y&m=z&s=w&e="
    outer = f"https://eur01.safelinks.protection.outlook.com/?url={quote(inner, safe='')}&data=05%7C01&sdata=x&reserved=0"
    found = assert_finds_aws(outer, "Safe Links", "Proofpoint")
    assert unwrap(outer) == (AWS, ["Microsoft Defender Safe Links", "Proofpoint URL Defense (v2)"])
    assert found.notes.index("unwrapped from Microsoft Defender Safe Links") < found.notes.index("unwrapped from Proofpoint URL Defense (v2)")


def test_a_wrapper_without_a_link_inside_is_a_sentence_naming_it() -> None:
    with pytest.raises(LinkParseError, match="Microsoft Defender Safe Links address with no readable link inside"):
        find_links("https://nam12.safelinks.protection.outlook.com/?data=05%7C02&sdata=x&reserved=0")


def test_a_cut_link_inside_a_wrapper_says_what_is_missing() -> None:
    cut = AWS[: AWS.index("&X-Amz-Signature")]
    with pytest.raises(LinkParseError, match="Once unwrapped from Microsoft Defender Safe Links, this S3 SigV4 link is missing X-Amz-Signature"):
        find_links("https://nam12.safelinks.protection.outlook.com/?url=" + quote(cut, safe="") + "&data=x")


# --------------------------------------------------------------------------- several links, no link


def test_two_links_in_one_paste_are_both_found_in_order() -> None:
    text = f"First {AWS} and then, from the CDN, <{CLOUDFRONT}>."
    first, second = find_links(text)
    assert (first.url, second.url) == (AWS, CLOUDFRONT)
    assert second.link.kind is LinkKind.CLOUDFRONT


def test_a_broken_link_beside_a_good_one_does_not_hide_it() -> None:
    found = find_links(f"old: {AWS[:-20]} new: {CLOUDFRONT}")
    assert [f.url for f in found] == [CLOUDFRONT]


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("this is not a link", "contains spaces"),
        ("https://example.com/just/a/page", "not a link Share Desk can read"),
        ("Thanks, see https://example.com/just/a/page for details", "not a link Share Desk can read"),
        (AWS[: AWS.index("&X-Amz-Signature")], "is missing X-Amz-Signature"),
        (f"the link {AWS[:-30]} is dead", "64 hexadecimal"),
        ("s3://bucket/key", "s3:// address is not a shareable link"),
        ("ftp://example.com/file", "not a web link"),
        ("x" * 20_000, "longer than 16 KB"),
        ("x" * 100_000, "longer than 64 KB"),
    ],
)
def test_text_with_no_readable_link_keeps_the_precise_sentence(text: str, sentence: str) -> None:
    with pytest.raises(LinkParseError, match=sentence):
        find_links(text)


# --------------------------------------------------------------------------- through the complaint desk


@pytest.fixture
def empty_log(tmp_path):
    log = IssuanceLog.open(str(tmp_path / "log.sqlite3"))
    yield log
    log.close()


def test_the_desk_explains_each_link_of_a_paste_and_says_how_it_was_found(empty_log) -> None:
    text = f"Ticket TCK-1: <{AWS}> and {CLOUDFRONT}"
    first, second = explain_paste(empty_log, text)
    assert (first.kind, second.kind) == (LinkKind.S3_SIGV4, LinkKind.CLOUDFRONT)
    assert first.url == AWS and "found in the text around it" in first.found_by
    assert [e.log_entry for e in lookup(empty_log, text)] == [None, None]


def test_a_bare_stable_token_starting_with_a_dash_is_not_read_as_a_ticket(demo_desk, monkeypatch) -> None:
    import secrets
    from datetime import timedelta

    from dashboard import demo, issuing
    from dashboard.strategies import ShareRequest

    real = secrets.token_urlsafe
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: "-" + real(n)[1:])  # one token in 32 starts so
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key="README.txt", lifetime=timedelta(days=1), issuer="alice")
    link = issuing.issue(demo_desk, [request], "stable")[0]
    token = link.url.rsplit("/s/", 1)[1]
    assert token.startswith("-")
    (found,) = lookup(demo_desk.log, token)
    assert found.log_entry is not None and found.log_entry.id == link.entry.id


# --------------------------------------------------------------------------- anything at all

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PIECES = st.sampled_from(
    [AWS, CLOUDFRONT, STABLE, "https://", "=3D", "=\n", "&amp;", "<", ">", "|", "(", ")", "[", "]", "*", "**C", "__;", "!!",
     "https://urldefense.com/v3/__", "https://nam1.safelinks.protection.outlook.com/?url=", "%3A%2F%2F", "\n> ", " ", "\n", "x" * 70]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(PIECES, st.text(max_size=20)), max_size=12).map("".join))
def test_find_links_on_arbitrary_text_finds_links_or_raises_one_sentence(text: str) -> None:
    try:
        found = find_links(text)
    except LinkParseError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert found and all(f.link.url for f in found)
        assert len({f.url for f in found}) == len(found)
