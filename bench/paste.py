"""How long Inspect takes to find the links in what staff paste: one link, a long e-mail, and the worst text allowed.

Prints figures; not a test. Pure (no network, no demo): `find_links` only.
"""

from __future__ import annotations

import quopri
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.paste import MAX_PASTE_CHARS, find_links  # noqa: E402
from dashboard.urlparse import LinkParseError  # noqa: E402

AWS = (
    "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
)


def timed(label: str, text: str, target_ms: float, repeat: int = 9) -> None:
    runs = []
    found = 0
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            found = len(find_links(text))
        except LinkParseError:
            found = 0
        runs.append((time.perf_counter() - start) * 1000)
    median = statistics.median(runs)
    print(f"{label:<58} {len(text):>7} chars  {found:>3} links  {median:8.2f} ms (target <= {target_ms:g} ms)")


def main() -> None:
    timed("(a) one link, alone", AWS, 1)
    paragraph = "Hello team, the customer forwarded the link below and says it stopped working after an hour. " * 3

    def link(i: int) -> str:
        return AWS.replace("test.txt", f"reports/file-{i:02d}.pdf")

    def safe(i: int) -> str:
        return f"https://nam12.safelinks.protection.outlook.com/?url={quote(link(i), safe='')}&data=05%7C02&sdata=x&reserved=0"

    mail = "\n\n".join(f"{paragraph}\n<{safe(i)}>\n> {link(i + 10).replace('&', '&amp;')}" for i in range(10))
    mail = quopri.encodestring(mail.encode()).decode()[: MAX_PASTE_CHARS - 1]
    timed("(b) a quoted-printable HTML thread, 20 links (10 in Safe Links)", mail, 100)
    line = ("https://" + "x" * 60 + "\n") * (MAX_PASTE_CHARS // 69)
    timed("(c) 64 KB of link starts, each line as wide as a wrap", line, 1000, repeat=3)
    wrapped = "https://" + "x" * 64 + "\n" + ("y" * 72 + "\n") * (MAX_PASTE_CHARS // 73 - 1)
    timed("(d) one link start and 64 KB of lines that could continue it", wrapped, 1000, repeat=3)


if __name__ == "__main__":
    main()
