"""Benchmark of the document engine: parse + one set + verify, and parse throughput.

Prints the median in-process time of ``Document.from_text(src).set(path, value)`` (which
parses, finds the insertion point, applies the edit and re-parses to verify) on a generated
5,000-line NixOS-style configuration, and the parse throughput in MB/s of tree-sitter-nix
next to ``nix-instantiate --parse`` on the same files.

Run: ``.venv/bin/python bench/bench_engine.py [--lines 5000] [--repeat 30]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nixgen import syntax  # noqa: E402
from nixgen.document import Document  # noqa: E402

NIX_OFFLINE = ["--option", "substituters", ""]


def generate(lines: int) -> str:
    """A NixOS-like configuration of about ``lines`` lines (nested, dotted, lists, comments)."""
    out = ["{ config, pkgs, lib, ... }:", "", "let", "  port = 22;", "in", "{"]
    i = 0
    while len(out) < lines - 2:
        out += [
            f"  # service number {i}",
            f"  services.svc{i} = {{",
            "    enable = true;",
            f'    description = "Service {i} with a ${{toString port}} port";',
            f"    ports = [ {i} {i + 1} {i + 2} ];",
            "    settings = {",
            f"      level = {i % 7};",
            f'      name = "svc-{i}";',
            "    };",
            "  };",
            f"  users.users.user{i}.isNormalUser = {'true' if i % 2 else 'false'};",
            f"  networking.firewall.allowedTCPPorts{i} = lib.mkIf true [ {i} ];",
            "",
        ]
        i += 1
    out.append("}")
    return "\n".join(out) + "\n"


def median_ms(fn, repeat: int, clock=time.perf_counter) -> float:
    """Median milliseconds of ``fn()`` measured with ``clock`` (wall or process CPU time)."""
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append((clock() - t0) * 1000)
    return statistics.median(times)


def both(fn, repeat: int) -> str:
    wall = median_ms(fn, repeat)
    cpu = median_ms(fn, repeat, time.process_time)
    return f"median {wall:.2f} ms wall, {cpu:.2f} ms CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()

    src = generate(args.lines)
    data = src.encode()
    print(f"generated configuration: {src.count(chr(10))} lines, {len(data) / 1024:.0f} KiB")
    load = os.getloadavg()[0]
    print(f"load average {load:.2f} on {os.cpu_count()} CPUs (wall times suffer when it is high)")

    last = (args.lines // 13) - 2
    cases = {
        "replace existing value": (f"services.svc{last}.settings.level", 42),
        "insert into nested set": (f"services.svc{last}.settings.newKey", "value"),
        "insert new top-level path": ("boot.loader.grub.device", "/dev/sda"),
    }
    for label, (path, value) in cases.items():
        result = both(lambda p=path, v=value: Document.from_text(data).set(p, v), args.repeat)
        print(f"parse + set + verify ({label}): {result} over {args.repeat} runs")

    parse_ms = median_ms(lambda: syntax.parse(data), args.repeat)
    parse_cpu = median_ms(lambda: syntax.parse(data), args.repeat, time.process_time)
    ts_mbs = len(data) / 1e6 / (parse_ms / 1000)
    print(
        f"tree-sitter parse: median {parse_ms:.2f} ms wall = {ts_mbs:.1f} MB/s "
        f"({len(data) / 1e6 / (parse_cpu / 1000):.1f} MB/s by CPU time)"
    )

    corpus = sorted((ROOT / "tests" / "fixtures" / "configs").glob("*.nix"))
    corpus_bytes = [f.read_bytes() for f in corpus]
    total = sum(len(b) for b in corpus_bytes)

    def parse_corpus() -> None:
        for b in corpus_bytes:
            syntax.parse(b)

    corpus_ms = median_ms(parse_corpus, args.repeat)
    print(
        f"tree-sitter on the fixture corpus ({len(corpus)} files, {total / 1024:.0f} KiB): "
        f"median {corpus_ms:.2f} ms = {total / 1e6 / (corpus_ms / 1000):.1f} MB/s"
    )

    nix = shutil.which("nix-instantiate")
    if nix is None:
        print("nix-instantiate not found: skipping the comparison")
        return
    corpus_argv = [nix, *NIX_OFFLINE, "--parse", *map(str, corpus)]
    if subprocess.run(corpus_argv, capture_output=True).returncode == 0:
        nix_corpus_ms = median_ms(
            lambda: subprocess.run(corpus_argv, check=True, capture_output=True),
            max(5, args.repeat // 3),
        )
        print(
            f"nix-instantiate --parse on the same corpus (one process): median "
            f"{nix_corpus_ms:.2f} ms = {total / 1e6 / (nix_corpus_ms / 1000):.1f} MB/s"
        )
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "big.nix"
        f.write_bytes(data)
        argv = [nix, *NIX_OFFLINE, "--parse", str(f)]
        subprocess.run(argv, check=True, capture_output=True)

        def run_nix() -> None:
            subprocess.run(argv, check=True, capture_output=True)

        nix_ms = median_ms(run_nix, max(5, args.repeat // 3))
        nix_mbs = len(data) / 1e6 / (nix_ms / 1000)
        print(
            f"nix-instantiate --parse (whole process): median {nix_ms:.2f} ms = {nix_mbs:.1f} MB/s"
        )
        tiny = Path(tmp) / "tiny.nix"
        tiny.write_bytes(b"{ }\n")
        tiny_argv = [nix, *NIX_OFFLINE, "--parse", str(tiny)]
        start_ms = median_ms(
            lambda: subprocess.run(tiny_argv, check=True, capture_output=True),
            max(5, args.repeat // 3),
        )
        net = max(nix_ms - start_ms, 0.001)
        print(
            f"nix-instantiate start-up (parsing `{{ }}`): median {start_ms:.2f} ms; parse alone "
            f"about {net:.2f} ms = {len(data) / 1e6 / (net / 1000):.1f} MB/s"
        )
        print(f"tree-sitter in-process is {nix_ms / parse_ms:.1f}x faster than a nix-instantiate call")


if __name__ == "__main__":
    main()
