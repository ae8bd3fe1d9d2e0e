"""The command line's contract: every bad input exits 2 with one line on stderr, nothing on stdout.

The table runs `dashboard.cli.main` in-process on the test session's demo (a
process start-up per case would take minutes); a few cases at the end run as
real processes, because exit status, argv bytes and ports belong to a process.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import catalog, demo
from dashboard.cli import main
from dashboard.store import IssuanceLog

ROOT = Path(__file__).resolve().parent.parent
S = f"s3://{demo.SUPPORT_BUCKET}"
README = f"{S}/README.txt"
BIG = "A" * 100_000  # a 100 KB argument
#: Raw control characters must never reach the terminal, escaped they may.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

# (id, argv, extra environment, a fragment of the one-line message)
CASES: list[tuple[str, list[str], dict[str, str], str]] = [
    # --- the command line itself
    ("no-command", [], {}, "required: command"),
    ("unknown-command", ["frobnicate"], {}, "invalid choice"),
    ("unknown-option", ["ls", "--bogus"], {}, "unrecognized arguments"),
    ("unknown-option-100kb", ["ls", "--" + BIG], {}, "unrecognized arguments"),
    ("help-hint-names-the-program-once", ["ls", "--page-size"], {}, "(see: python -m dashboard ls --help)"),
    # --- ls
    ("ls-http-url", ["ls", "http://example.com/x"], {}, "is not an s3:// path"),
    ("ls-ftp-url", ["ls", "ftp://example.com/x"], {}, "is not an s3:// path"),
    ("ls-empty-path", ["ls", "s3://"], {}, "is not a valid bucket name"),
    ("ls-bad-bucket", ["ls", "s3://Not_A_Bucket/"], {}, "is not a valid bucket name"),
    ("ls-bucket-with-escape", ["ls", "\x1b[31mred"], {}, "is not a valid bucket name"),
    ("ls-bucket-100kb", ["ls", "s3://" + BIG.lower()], {}, "is not a valid bucket name"),
    ("ls-bucket-not-allowed", ["ls", "s3://not-allowed-bucket/"], {}, "not allowed to share from bucket"),
    ("ls-page-size-zero", ["ls", "--page-size", "0", f"{S}/"], {}, "out of range"),
    ("ls-page-size-too-big", ["ls", "--page-size", "1001", f"{S}/"], {}, "out of range"),
    ("ls-page-size-not-a-number", ["ls", "--page-size", "lots", f"{S}/"], {}, "invalid int value"),
    ("ls-page-size-100kb", ["ls", "--page-size", BIG, f"{S}/"], {}, "invalid int value"),
    ("ls-page-token-garbled", ["ls", f"{S}/", "--page-token", "garbled"], {}, "not one this listing handed out"),
    ("ls-page-token-100kb", ["ls", f"{S}/", "--page-token", BIG], {}, "not one this listing handed out"),
    ("ls-page-token-escape", ["ls", f"{S}/", "--page-token", "\x1b[2J"], {}, "not one this listing handed out"),
    (
        "ls-page-token-from-another-folder",
        ["ls", f"{S}/customers/", "--page-token", catalog.seal_page_token(demo.SUPPORT_BUCKET, "manuals/", "t")],
        {},
        "from another folder",
    ),
    (
        "ls-page-token-tampered",
        ["ls", f"{S}/", "--page-token", catalog.seal_page_token(demo.SUPPORT_BUCKET, "", "token")[:-1] + "0"],
        {},
        "not one this listing handed out",
    ),
    ("ls-key-100kb", ["ls", f"{S}/{BIG}"], {}, "at most 1,024 bytes"),
    ("ls-key-lone-surrogate", ["ls", f"{S}/caf\udce9/"], {}, "not valid text"),
    # --- issue
    ("issue-no-path", ["issue"], {}, "required: path"),
    ("issue-not-s3", ["issue", "not-s3-path"], {}, "'not-s3-path'"),
    ("issue-no-key", ["issue", f"{S}/"], {}, "names no object"),
    ("issue-key-100kb", ["issue", f"{S}/{BIG}"], {}, "at most 1,024 bytes"),
    ("issue-key-1025-bytes", ["issue", f"{S}/" + "é" * 513], {}, "1,026 bytes long"),
    ("issue-key-lone-surrogate", ["issue", f"{S}/caf\udce9.txt"], {}, "not valid text"),
    ("issue-missing-object", ["issue", f"{S}/no/such/file.txt", "--strategy", "iam-user"], {}, "does not exist"),
    ("issue-archived", ["issue", f"s3://{demo.ARCHIVE_BUCKET}/2019/backup-2019-01.tar", "--strategy", "iam-user"], {}, "until it is restored"),
    ("issue-unknown-strategy", ["issue", README, "--strategy", "nope"], {}, "Unknown strategy 'nope'"),
    ("issue-strategy-100kb", ["issue", README, "--strategy", BIG], {}, "Unknown strategy"),
    ("issue-strategy-escape", ["issue", README, "--strategy", "\x1b]8;;https://evil.example\x07x"], {}, "Unknown strategy"),
    ("issue-8-days-presigned", ["issue", README, "--expires-in", "8d", "--strategy", "iam-user"], {}, "at most 7 days"),
    ("issue-zero-lifetime", ["issue", README, "--expires-in", "0s"], {}, "is zero"),
    ("issue-negative-lifetime", ["issue", README, "--expires-in", "-5m"], {}, "expected one argument"),
    ("issue-unreadable-lifetime", ["issue", README, "--expires-in", "two weeks"], {}, "is not a duration"),
    ("issue-lifetime-100kb", ["issue", README, "--expires-in", BIG], {}, "is not a duration"),
    ("issue-no-strategy-reaches", ["issue", README, "--expires-in", "400d"], {}, "No configured strategy can sign"),
    ("issue-stable-beyond-policy", ["issue", README, "--strategy", "stable", "--expires-in", "100d"], {}, "at most 90 days"),
    ("issue-ticket-nul", ["issue", README, "--ticket", "TCK-1\x00"], {}, "ticket reference contains a control character (\\x00"),
    ("issue-ticket-escape", ["issue", README, "--ticket", "TCK-\x1b[2J1"], {}, "control character (\\x1b"),
    ("issue-ticket-carriage-return", ["issue", README, "--ticket", "TCK\r-1"], {}, "control character (\\x0d"),
    ("issue-ticket-line-separator", ["issue", README, "--ticket", "TCK\u2028-1"], {}, "control character (\\u2028"),
    ("issue-ticket-100kb", ["issue", README, "--ticket", BIG], {}, "keep it to 200 at most"),
    ("issue-note-bell", ["issue", README, "--note", "call\x07me"], {}, "note contains a control character (\\x07"),
    ("issue-note-c1-csi", ["issue", README, "--note", "x\x9b2Jy"], {}, "control character (\\x9b"),
    ("issue-note-100kb", ["issue", README, "--note", BIG], {}, "keep it to 2,000 at most"),
    ("issue-issuer-escape", ["issue", README, "--issuer", "bob\x1b]8;;https://evil.example\x07"], {}, "issuer's name contains a control character"),
    ("issue-issuer-lone-surrogate", ["issue", README, "--issuer", "b\udcffob"], {}, "control character (\\udcff"),
    ("issue-issuer-100kb", ["issue", README, "--issuer", BIG], {}, "keep it to 200 at most"),
    ("issue-issuer-from-environment", ["issue", README], {"SHAREDESK_ISSUER": "eve\x1b[8m"}, "issuer's name contains a control character"),
    ("issue-bucket-not-allowed", ["issue", "s3://not-an-allowed-bucket/file.txt", "--strategy", "iam-user"], {}, "not allowed to share from bucket"),
    # --- inspect
    ("inspect-100kb", ["inspect", BIG], {}, "longer than 64 KB"),
    ("inspect-escape", ["inspect", "https://x.example/\x1b[2J"], {}, "control characters"),
    ("inspect-lone-surrogate", ["inspect", "\udcff"], {}, "not a web link"),
    ("inspect-bad-time", ["inspect", "https://b.s3.amazonaws.com/k?X-Amz-Signature=0", "--at", "yesterday"], {}, "is not a time"),
    ("inspect-time-100kb", ["inspect", "https://b.s3.amazonaws.com/k?X-Amz-Signature=0", "--at", BIG], {}, "is not a time"),
    ("inspect-unknown-ticket", ["inspect", "TCK-0000000"], {}, "No link in this desk's log has the ticket reference"),
    ("inspect-probe-a-ticket", ["inspect", "TCK-0000000", "--probe"], {}, "--probe needs the link itself"),
    # --- revoke
    ("revoke-presigned", ["revoke", "https://b.s3.amazonaws.com/k?X-Amz-Signature=abc"], {}, "cannot be revoked one by one"),
    ("revoke-garbage", ["revoke", "not a link"], {}, "not a Share Desk stable link"),
    ("revoke-100kb", ["revoke", BIG], {}, "not a Share Desk stable link"),
    ("revoke-escape", ["revoke", "https://desk.example/s/\x1b[2J"], {}, "not a Share Desk stable link"),
    ("revoke-unknown-token", ["revoke", "https://desk.example/s/" + "Z" * 32], {}, "No stable link in this desk's log matches"),
    ("revoke-by-escape", ["revoke", "--by", "ops\x1b[2J", "TOKEN"], {}, "issuer's name contains a control character"),
    # --- serve-links (refused before anything listens)
    ("serve-port-zero", ["serve-links", "--port", "0"], {}, "is not a port number"),
    ("serve-port-too-big", ["serve-links", "--port", "70000"], {}, "is not a port number"),
    ("serve-port-not-a-number", ["serve-links", "--port", "http"], {}, "invalid int value"),
    ("serve-host-unknown", ["serve-links", "--host", "no such host!"], {}, "is not an address or name this machine can listen on"),
    ("serve-host-empty", ["serve-links", "--host", ""], {}, "is not an address or name"),
    ("serve-host-nul", ["serve-links", "--host", "127.0.0.1\x00"], {}, "is not an address or name"),
    ("serve-host-100kb", ["serve-links", "--host", BIG], {}, "is not an address or name"),
    ("serve-host-not-here", ["serve-links", "--host", "192.0.2.1"], {}, "is not an address of this machine"),
    # --- settings
    ("setting-demo", ["ls"], {"SHAREDESK_DEMO": "maybe"}, "set it to 1, 0 or auto"),
    ("setting-page-size", ["ls"], {"SHAREDESK_PAGE_SIZE": "lots"}, "whole number"),
    ("setting-public-base-ftp", ["ls"], {"SHAREDESK_PUBLIC_BASE_URL": "ftp://links.example"}, "must be an http:// or https:// address"),
    ("setting-public-base-no-host", ["ls"], {"SHAREDESK_PUBLIC_BASE_URL": "https://"}, "with a host"),
    ("setting-public-base-javascript", ["ls"], {"SHAREDESK_PUBLIC_BASE_URL": "javascript:alert(1)"}, "must be an http:// or https:// address"),
    ("setting-public-base-bare-name", ["ls"], {"SHAREDESK_PUBLIC_BASE_URL": "links.example.com"}, "must be an http:// or https:// address"),
    ("setting-public-base-credentials", ["ls"], {"SHAREDESK_PUBLIC_BASE_URL": "https://user:pw@links.example"}, "user name or password"),
    ("setting-public-base-query", ["ls"], {"SHAREDESK_PUBLIC_BASE_URL": "https://links.example/?x=1"}, "cannot have a ?query"),
    ("setting-public-base-escape", ["ls"], {"SHAREDESK_PUBLIC_BASE_URL": "https://links.example/\x1b[2J"}, "must be an http:// or https:// address"),
    ("setting-database-mysql", ["ls"], {"SHAREDESK_DATABASE_URL": "mysql://db.example/log"}, "a kind of database the desk cannot use"),
    ("setting-database-mongodb", ["ls"], {"SHAREDESK_DATABASE_URL": "mongodb+srv://db.example/log"}, "a kind of database the desk cannot use"),
    ("setting-database-plain-var", ["ls"], {"DATABASE_URL": "redis://cache.example"}, "DATABASE_URL is 'redis://cache.example'"),
    ("setting-database-sqlite-host", ["revoke", "https://desk.example/s/" + "Z" * 32], {"SHAREDESK_DATABASE_URL": "sqlite://host/log"}, "has a host"),
    ("setting-trusted-hops-zero", ["ls"], {"SHAREDESK_CLIENT_IP_TRUSTED_HOPS": "0"}, "between 1 and 16"),
    ("setting-trusted-hops-word", ["ls"], {"SHAREDESK_CLIENT_IP_TRUSTED_HOPS": "two"}, "whole number"),
    ("setting-stable-max-days", ["ls"], {"SHAREDESK_STABLE_MAX_DAYS": "-1"}, "between 1 and 3650"),
    ("setting-signature-age-cap", ["ls"], {"SHAREDESK_SIGNATURE_AGE_CAP": "soon"}, "not a duration"),
]


def assert_contract(code: int, out: str, err: str, fragment: str) -> None:
    assert code == 2, err
    assert out == "", out[:200]
    assert err.startswith("dashboard: ") and err.endswith("\n") and err.count("\n") == 1, err[:300]
    assert "Traceback" not in err and "Error:" not in err.split(":", 1)[1][:40], err[:300]
    assert not RAW_CONTROL.search(err), repr(err[:300])
    assert len(err) <= 700, f"{len(err)} characters"
    assert fragment in err, err[:300]


def test_the_table_holds_at_least_sixty_bad_inputs():
    assert len(CASES) >= 60 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("argv", "env", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line_and_nothing_on_stdout(demo_desk, capsys, monkeypatch, argv, env, fragment):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    demo_desk.log  # seeds the demo history first, so only what this command adds is counted
    with IssuanceLog(demo_desk.settings.database_url) as log:
        before = log.count()
    code = main(argv)
    captured = capsys.readouterr()
    assert_contract(code, captured.out, captured.err, fragment)
    with IssuanceLog(demo_desk.settings.database_url) as log:
        assert log.count() == before  # no link was issued


def test_usage_names_the_program_once(demo_desk, capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m dashboard [-h]") and "dashboard dashboard" not in out
    assert main(["ls", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: python -m dashboard ls [-h]")


# --- what a key can do to a terminal -----------------------------------------------------

HOSTILE = ["zz-hostile/\x1b[2J\x1b]8;;https:evil.example\x07clear.txt", "zz-hostile/bell\x07\rover\x9bwrite.txt", "zz-hostile/next\x85line\u202eexe.txt"]  # moto cannot store "\n" in a key; NEL and RLO stand in


@pytest.fixture
def hostile_keys(demo_desk):
    s3 = demo_desk.aws.s3()
    for key in HOSTILE:
        s3.put_object(Bucket=demo.ARCHIVE_BUCKET, Key=key, Body=b"x")
    s3.put_object(Bucket=demo.ARCHIVE_BUCKET, Key="zz-hostile/\x1b[31mfolder/inside.txt", Body=b"x")
    yield f"s3://{demo.ARCHIVE_BUCKET}/zz-hostile/"
    for key in [*HOSTILE, "zz-hostile/\x1b[31mfolder/inside.txt"]:
        s3.delete_object(Bucket=demo.ARCHIVE_BUCKET, Key=key)


def test_ls_shows_control_characters_in_keys_as_escapes(hostile_keys, capsys):
    assert main(["ls", hostile_keys]) == 0
    out = capsys.readouterr().out
    assert not RAW_CONTROL.search(out)
    assert "\\x1b[2J\\x1b]8;;https:evil.example\\x07clear.txt" in out  # no forged hyperlink, no cleared screen
    assert "bell\\x07\\x0dover\\x9bwrite.txt" in out and "next\\x85line\\u202eexe.txt" in out
    assert "PRE  \\x1b[31mfolder/" in out
    assert len(out.split("\n")) == 5  # one line per entry, then the final newline


def test_ls_json_lists_folders_and_objects_with_their_type_and_stays_inert(hostile_keys, capsys):
    assert main(["ls", hostile_keys, "--json"]) == 0
    out = capsys.readouterr().out
    assert not RAW_CONTROL.search(out.replace("\n", ""))
    entries = json.loads(out)
    assert [e["type"] for e in entries] == ["folder", "object", "object", "object"]
    assert entries[0]["prefix"] == "zz-hostile/\x1b[31mfolder/"
    assert sorted(e["key"] for e in entries[1:]) == sorted(HOSTILE)  # the JSON escapes decode to the real keys


def test_ls_json_of_a_bucket_holding_only_folders_is_not_empty(demo_desk, capsys):
    assert main(["ls", f"{S}/customers/", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert entries and {e["type"] for e in entries} == {"folder"}
    assert "customers/acme/" in [e["prefix"] for e in entries]


def test_a_page_token_leads_to_the_next_page(demo_desk, capsys):
    assert main(["ls", f"s3://{demo.EXPORTS_BUCKET}/{demo.BIG_PREFIX}", "--page-size", "2", "--json"]) == 0
    captured = capsys.readouterr()
    token = captured.err.rsplit("--page-token ", 1)[1].strip()
    assert main(["ls", f"s3://{demo.EXPORTS_BUCKET}/{demo.BIG_PREFIX}", "--page-size", "2", "--page-token", token, "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert [e["key"] for e in second] == ["nightly/export-00002.csv", "nightly/export-00003.csv"]


# --- real processes ----------------------------------------------------------------------


def run_cli(*args: str | bytes, state_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("SHAREDESK_DATABASE_URL", "DATABASE_URL")}
    environ.update(SHAREDESK_STATE_DIR=str(state_dir), SHAREDESK_DEMO="auto", **(env or {}))
    return subprocess.run([sys.executable, "-m", "dashboard", *args], cwd=ROOT, env=environ, capture_output=True, timeout=120)


def assert_process_contract(result: subprocess.CompletedProcess[bytes], fragment: str) -> None:
    assert_contract(result.returncode, result.stdout.decode(), result.stderr.decode("utf-8", "surrogateescape"), fragment)


def test_a_garbled_page_token_in_a_real_process(tmp_path):
    assert_process_contract(run_cli("ls", f"{S}/", "--page-token", "garbled", state_dir=tmp_path), "not one this listing handed out")


def test_a_key_that_is_not_utf8_on_the_command_line(tmp_path):
    # Python turns the byte 0xe9 (Latin-1 "é") into the lone surrogate \udce9.
    result = run_cli("issue", f"{S}/caf".encode() + b"\xe9.txt", state_dir=tmp_path)
    assert_process_contract(result, "not valid text (\\udce9")


def test_an_unsupported_database_url_in_a_real_process(tmp_path):
    result = run_cli("ls", state_dir=tmp_path, env={"SHAREDESK_DATABASE_URL": "mysql://db.example/log"})
    assert_process_contract(result, "a kind of database the desk cannot use")


def test_serve_links_on_a_busy_port_says_so_in_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("serve-links", "--host", "127.0.0.1", "--port", str(port), state_dir=tmp_path)
    assert_process_contract(result, f"Port {port} on 127.0.0.1 is already in use")


def test_serve_links_on_a_bad_host_says_so_in_one_line(tmp_path):
    assert_process_contract(run_cli("serve-links", "--host", "not a host", state_dir=tmp_path), "is not an address or name")
