"""Throughput of the emitter, the literal evaluator and ``nixgen gen``.

* ``to_nix`` on a generated settings tree (about 1 MB of Nix), in MB/s of output;
* ``literal_value`` over every expression of the fixture corpus, in expressions per second,
  next to ``nix-instantiate --eval --strict`` of the same generated tree (one process);
* ``nixgen gen`` of a 200 KB JSON file as a whole process, wall time.

Run: .venv/bin/python bench/bench_emit.py
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nixgen.emit import to_nix  # noqa: E402
from nixgen.literal import literal_value  # noqa: E402
from nixgen.syntax import parse  # noqa: E402

OFFLINE = ["--option", "substituters", ""]


def settings_tree(n: int) -> dict[str, object]:
    return {
        f"host-{i}": {
            "enable": i % 2 == 0,
            "port": 1000 + i,
            "ratio": i / 7,
            "tags": [f"t{j}" for j in range(i % 6)],
            "script": f"set -e\necho ${{HOME}} {i}\n",
            "nested": {"a": {"b": {"c": [i, -i, None]}}},
        }
        for i in range(n)
    }


def best_of(fn, runs: int = 5) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    tree = settings_tree(4000)
    text = to_nix(tree)
    size_mb = len(text.encode()) / 1e6
    low, med = best_of(lambda: to_nix(tree))
    print(f"to_nix: {size_mb:.2f} MB in {low * 1000:.0f} ms (median {med * 1000:.0f} ms) "
          f"= {size_mb / low:.1f} MB/s")

    data = text.encode()
    root = parse(data).root_node.named_children[0]
    low, med = best_of(lambda: literal_value(root, data))
    print(f"literal_value of that tree: {low * 1000:.0f} ms (median {med * 1000:.0f} ms)")
    nix = shutil.which("nix-instantiate")
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "tree.nix"
        file.write_bytes(data)
        if nix:
            def run_nix() -> None:
                subprocess.run([nix, *OFFLINE, "--eval", "--strict", str(file)],
                               check=True, capture_output=True)
            nlow, nmed = best_of(run_nix, 3)
            print(f"nix-instantiate --eval --strict of that tree: {nlow * 1000:.0f} ms "
                  f"(median {nmed * 1000:.0f} ms); ratio python/nix = {low / nlow:.2f}")

        corpus = sorted((ROOT / "tests" / "fixtures" / "configs").rglob("*.nix"))
        nodes = []
        for path in corpus:
            src = path.read_bytes()
            stack = [parse(src).root_node]
            while stack:
                node = stack.pop()
                stack.extend(node.named_children)
                if node.type.endswith("_expression"):
                    nodes.append((node, src))

        def every_node() -> None:
            for node, src in nodes:
                literal_value(node, src)

        low, med = best_of(every_node)
        print(f"literal_value over {len(nodes)} corpus expressions: {low * 1000:.1f} ms "
              f"= {len(nodes) / low:,.0f} expressions/s")

        js = Path(tmp) / "settings.json"
        js.write_text(json.dumps(settings_tree(800)))
        kb = js.stat().st_size / 1000

        def run_gen() -> None:
            subprocess.run([sys.executable, "-m", "nixgen", "gen", str(js)], check=True,
                           capture_output=True, cwd=ROOT)
        low, med = best_of(run_gen, 5)
        print(f"nixgen gen of {kb:.0f} KB JSON (whole process): {low * 1000:.0f} ms "
              f"(median {med * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
