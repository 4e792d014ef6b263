"""POST one request body to /score on every node of an inventory and print each answer."""

import sys
import time
import urllib.request
from pathlib import Path

from fleetdeploy.inventory import load_inventory, scoring_url


def main(inventory: str, body_file: str, port: int = 6789) -> int:
    body = Path(body_file).read_bytes()
    failures = 0
    for host in load_inventory(inventory):
        url = f"{scoring_url(host, port)}/score"
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                text = answer.read().decode()
        except OSError as exc:
            failures += 1
            text = f"FAILED: {exc}"
        print(f"  {host.name:8} {url:40} prediction: {text}  ({(time.perf_counter() - started) * 1000:.1f} ms)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
