"""Strongroom side by side with any Infisical-compatible server (#14's claim, checkable by anyone).

    python -m bench.compare --base-url https://infisical.example.com --client-id ID \\
        --client-secret S --project-id P --environment dev [--secret-path /]

(``--client-secret`` may be left out and given as BENCH_COMPARE_CLIENT_SECRET: argv is visible in
ps.) The machine identity needs write access to the environment: the bench makes a folder
``wrkbench<stamp>`` under the secret path, with 50 secrets to read and BENCH_FILL (10,000) in the
folder the second create case writes to, and leaves it there. Then it runs bench/wrk_cases.py's
compat cases against that server and against a Strongroom it starts itself (as ``make bench``
does), and prints both tables and the ratios Strongroom / other: req/s (> 1: Strongroom serves more)
and p50/p99 (< 1: Strongroom answers sooner). BENCH_SECONDS, BENCH_WARMUP_SECONDS, BENCH_REDIS_URL,
WEB_CONCURRENCY and BENCH_WORKER_CLASS apply as for ``python -m bench.wrk_cases``. Run both on the
same machine, or the network is what you compare.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any
from urllib.parse import urlparse

from bench import wrk_cases
from bench.wrk import ensure_wrk


def ratio_table(ratios: dict[str, Any]) -> str:
    lines = ["| case | req/s Strongroom/other | p50 Strongroom/other | p99 Strongroom/other |", "|---|---:|---:|---:|"]
    for name, ratio in ratios.items():
        if ratio["flag"]:
            lines.append(f"| {name} | **errors: no ratio** | | |")
        else:
            lines.append(f"| {name} | {ratio['rps']}× | {ratio['p50']}× | {ratio['p99']}× |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="the other server, e.g. https://app.infisical.com")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", default=os.environ.get("BENCH_COMPARE_CLIENT_SECRET"))
    parser.add_argument("--project-id", required=True)
    parser.add_argument("--environment", required=True)
    parser.add_argument("--secret-path", default="/")
    args = parser.parse_args(argv)
    if not args.client_secret:
        parser.error("--client-secret or BENCH_COMPARE_CLIENT_SECRET is required")
    ensure_wrk()
    seconds = float(os.environ.get("BENCH_SECONDS", "10"))
    warmup = float(os.environ.get("BENCH_WARMUP_SECONDS", "2"))
    fill = int(os.environ.get("BENCH_FILL", "10000"))

    base_url = args.base_url.rstrip("/")
    login_body = {"clientId": args.client_id, "clientSecret": args.client_secret}
    token = wrk_cases.login(base_url, login_body)
    layout = wrk_cases.prepare(base_url, token, args.project_id, args.environment, args.secret_path, fill)
    other = wrk_cases.Target(base_url, token, login_body)
    theirs = wrk_cases.run_cases(
        other, wrk_cases.compat_cases(urlparse(base_url).path, layout), seconds=seconds, warmup=warmup
    )

    stack = wrk_cases.start_strongroom(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"), fill)
    try:
        ours = wrk_cases.run_cases(
            stack.target, wrk_cases.compat_cases(wrk_cases.COMPAT, stack.layout), seconds=seconds, warmup=warmup
        )
    finally:
        stack.close()

    ratios = wrk_cases.ratios(ours, theirs)
    document = {
        "other": {"base_url": base_url, "cases": theirs},
        "strongroom": {"server": stack.settings, "cases": ours},
        "ratios": ratios,
        "seconds": seconds,
    }
    path = wrk_cases.write_json(document, prefix="compare")
    print(f"## {base_url}\n\n{wrk_cases.table(theirs)}\n")
    print(f"## Strongroom ({stack.settings})\n\n{wrk_cases.table(ours)}\n")
    print(f"## Strongroom / other\n\n{ratio_table(ratios)}\n\nJSON: {path}")
    errors = sum(result["errors"] for result in [*theirs.values(), *ours.values()])
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
