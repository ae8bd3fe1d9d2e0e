"""Issue 2,000 links in one bulk action (sign + log) and presign the same 2,000 with bare botocore.

Prints links/s for both and their ratio. Target on SQLite: the desk at least 0.8 as fast.
Run: .venv/bin/python bench/issue.py [--strategy iam-user] [--count 2000] [--database-url URL|postgresql]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
for name in [n for n in os.environ if n.startswith("AWS_")]:
    del os.environ[name]
os.environ["SHAREDESK_STATE_DIR"] = tempfile.mkdtemp(prefix="sharedesk-bench-")
os.environ["SHAREDESK_DEMO"] = "1"

import _database  # noqa: E402

from dashboard import demo, issuing  # noqa: E402
from dashboard.desk import open_desk  # noqa: E402
from dashboard.strategies import ShareRequest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--strategy", default="iam-user")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=None, help=_database.HELP)
    args = parser.parse_args()
    url = _database.resolve(args.database_url)
    if url:
        os.environ["SHAREDESK_DATABASE_URL"] = url

    desk = open_desk()
    keys = [f"{demo.BIG_PREFIX}export-{i:05d}.csv" for i in range(args.count)]
    requests = [ShareRequest(bucket=demo.EXPORTS_BUCKET, key=k, lifetime=timedelta(days=1), issuer="bench", ticket="BENCH-1") for k in keys]
    issuing.issue(desk, requests[:10], args.strategy, verify_objects=False)  # warm clients and caches

    credentials = desk.aws.signer_key() if args.strategy == "iam-user" else desk.aws.ambient()
    bare = desk.aws.session.client(
        "s3",
        endpoint_url=desk.settings.endpoint_url,
        region_name=desk.settings.region,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
        config=__import__("botocore.config").config.Config(signature_version="s3v4"),
    )

    desk_rates, bare_rates = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        links = issuing.issue(desk, requests, args.strategy, verify_objects=False)
        desk_rates.append(len(links) / (time.perf_counter() - started))

        started = time.perf_counter()
        for key in keys:
            bare.generate_presigned_url("get_object", Params={"Bucket": demo.EXPORTS_BUCKET, "Key": key}, ExpiresIn=86400)
        bare_rates.append(args.count / (time.perf_counter() - started))

    desk_rate, bare_rate = statistics.median(desk_rates), statistics.median(bare_rates)
    print(f"log backend                       {_database.backend_name(url)}")
    print(f"strategy                          {args.strategy}")
    print(f"desk bulk issue (sign + log)      {desk_rate:,.0f} links/s  (median of {args.rounds} x {args.count})")
    print(f"bare botocore presign             {bare_rate:,.0f} links/s")
    print(f"ratio desk / bare                 {desk_rate / bare_rate:.2f}  (target >= 0.80 on SQLite)")
    print(f"rows in the log                   {desk.log.count():,}")


if __name__ == "__main__":
    main()
