"""Micro-benchmark: werkzeug's ``MapAdapter.match`` against ``kolben.router.match``.

Times one match per call, in one process, on the maps of the ``params`` scenario
(50 rules ``/r<i>/<int:id>/items/<name>``) plus ``/api/users/<int:id>``, and on a
map of 2,001 rules (walked in Python down to small expressions). Both matchers
are first checked to give the same answer.

    python benchmarks/router.py
    python benchmarks/router.py --number 20000 --repeat 9
"""

from __future__ import annotations

import argparse
import contextlib
import timeit
from collections.abc import Callable

from werkzeug.routing import Map, MapAdapter, Rule

from kolben import router


def scenario_map(n: int) -> Map:
    rules = [Rule(f"/r{i}/<int:id>/items/<name>", endpoint=f"r{i}") for i in range(n)]
    if n > 50:
        rules += [Rule(f"/s{i}/static", endpoint=f"s{i}") for i in range(n)]
    rules.append(Rule("/api/users/<int:id>", endpoint="user", methods=["GET"]))
    return Map(rules)


def outcome(call: Callable[[], object]) -> object:
    try:
        return call()
    except Exception as e:  # the same exception type is the same answer
        return type(e)


def best(call: Callable[[], object], number: int, repeat: int) -> float:
    """Microseconds per call, the best of ``repeat`` samples."""

    def quiet() -> None:
        with contextlib.suppress(Exception):
            call()

    return min(timeit.repeat(quiet, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=10000, help="calls per sample")
    parser.add_argument("--repeat", type=int, default=7, help="samples (the best is kept)")
    args = parser.parse_args()

    cases = [
        (50, "/r25/42/items/widget", "GET"),
        (50, "/api/users/42", "GET"),
        (50, "/no/such/page", "GET"),
        (50, "/api/users/42", "POST"),
        (1000, "/r500/42/items/widget", "GET"),
        (1000, "/no/such/page", "GET"),
    ]
    adapters: dict[int, MapAdapter] = {}
    print(f"{'rules':>6}  {'request':28}  {'werkzeug':>9}  {'kolben':>9}  ratio")
    for n, path, method in cases:
        if n not in adapters:
            adapters[n] = scenario_map(n).bind("localhost")
        adapter = adapters[n]

        def slow(adapter: MapAdapter = adapter, path: str = path, method: str = method) -> object:
            return adapter.match(path, method, return_rule=True, query_args="")

        def fast(adapter: MapAdapter = adapter, path: str = path, method: str = method) -> object:
            return router.match(adapter, path, method, "")

        if outcome(slow) != outcome(fast):
            raise SystemExit(f"different answers for {method} {path}")
        w = best(slow, args.number, args.repeat)
        k = best(fast, args.number, args.repeat)
        rules = len(list(adapter.map.iter_rules()))
        print(f"{rules:>6}  {method + ' ' + path:28}  {w:7.2f}µs  {k:7.2f}µs  {k / w:5.2f}")


if __name__ == "__main__":
    main()
