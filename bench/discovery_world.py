"""The fakes discovery's bench reads, in a process of their own (so that the bench
measures discovery's memory, not theirs): a generated library in the fake
Audiobookshelf, its series in the rate-limited fake Audible.

    python -m bench.discovery_world --seed 1 --books 20000 --rate-limit 20

Prints one JSON line, `{"abs": url, "audible": url, "key": api key}`, then answers each
line read from stdin: `stats` with `{"requests": n, "refused": n}` (the catalogue's),
`touch <n>` by changing n items (a new `updatedAt`), `remove <n>` by removing n items.
It stops at the end of its input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from sandbox.audible import FakeAudible
from sandbox.audiobookshelf import FakeAudiobookshelf
from sandbox.generated_library import generate, load

KEY = "bench-discovery-key"


async def serve(seed: int, books: int, rate_limit: int) -> None:
    """Serve until stdin closes."""
    library = generate(seed, books=books, series=books // 10, authors=books // 5)
    with tempfile.TemporaryDirectory(prefix="abauto-bench-discovery-") as root:
        abs_server = FakeAudiobookshelf(Path(root), KEY)
        audible = FakeAudible()
        load(library, abs_server, audible)
        audible.rate_limit = rate_limit
        del library  # the fakes hold what they need
        async with abs_server, audible:
            _say({"abs": abs_server.base_url, "audible": audible.base_url, "key": KEY})
            while line := await asyncio.to_thread(sys.stdin.readline):
                _say(_command(line.split(), abs_server, audible))


def _command(words: list[str], abs_server: FakeAudiobookshelf, audible: FakeAudible) -> object:
    if words[:1] == ["touch"]:
        items = abs_server.items()[: int(words[1])]
        abs_server.load(
            [replace(i, updated_at=i.updated_at + 1, title=f"{i.title} (revised)") for i in items]
            + abs_server.items()[len(items) :]
        )
        return {"touched": [i.id for i in items]}
    if words[:1] == ["remove"]:
        gone = [i.id for i in abs_server.items()[-int(words[1]) :]]
        for item_id in gone:
            abs_server.remove(item_id)
        return {"removed": gone}
    return {"requests": len(audible.requests), "refused": audible.refused}


def _say(answer: object) -> None:
    print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--books", type=int, default=20_000)
    parser.add_argument("--rate-limit", type=int, default=20)
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.seed, arguments.books, arguments.rate_limit))
