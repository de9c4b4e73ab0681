"""Benchmark: `nixgen eval` and `nixgen check-syntax` as whole processes, next to bare Nix.

* `nixgen eval '1 + 1'` (the console script, a whole process) versus
  `nix-instantiate --eval -E '1 + 1'`: median wall time of N runs each, interleaved.
  Target: nixgen under 150 ms.
* `nixgen check-syntax` over 1,000 generated files versus one batched
  `nix-instantiate --parse` over the same files: median of N runs each, interleaved.
  Target: nixgen within 1.5x of the batched Nix parse.

Run: .venv/bin/python bench/bench_eval.py [--runs N] [--files N]
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
OFFLINE = ["--option", "substituters", ""]


def nixgen_argv() -> list[str]:
    script = Path(sys.executable).parent / "nixgen"
    return [str(script)] if script.exists() else [sys.executable, "-m", "nixgen"]


def wall(argv: list[str], expect: int = 0) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != expect:
        sys.exit(f"unexpected exit {proc.returncode}: {argv[:4]}…\n{proc.stderr.decode()[:2000]}")
    return elapsed


def compare(label: str, ours: list[str], theirs: list[str], runs: int) -> tuple[float, float]:
    wall(ours)  # warm the caches (page cache, .pyc)
    wall(theirs)
    a: list[float] = []
    b: list[float] = []
    for _ in range(runs):
        a.append(wall(ours))
        b.append(wall(theirs))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"{label}")
    print(f"  nixgen          median {ma * 1000:7.1f} ms  (min {min(a) * 1000:.1f}, max {max(a) * 1000:.1f})")
    print(f"  nix (bare)      median {mb * 1000:7.1f} ms  (min {min(b) * 1000:.1f}, max {max(b) * 1000:.1f})")
    print(f"  ratio nixgen/nix: {ma / mb:.2f}x")
    return ma, mb


def generate(directory: Path, count: int) -> list[str]:
    """Files shaped like NixOS modules of a few dozen lines."""
    names = []
    for i in range(count):
        text = (
            "{ config, lib, pkgs, ... }:\n"
            "let\n"
            f"  port = {2000 + i};\n"
            "in\n"
            "{\n"
            f'  networking.hostName = "host-{i}";\n'
            "  services.openssh = {\n"
            "    enable = true;\n"
            "    ports = [ port ];\n"
            "  };\n"
            f"  systemd.containers.c{i} = lib.mkIf config.services.openssh.enable {{\n"
            f'    path = "/nix/var/nix/profiles/containers/c{i}";\n'
            "  };\n"
            "  environment.systemPackages = with pkgs; [ vim git htop ];\n"
            f"  users.users.u{i} = {{ isNormalUser = true; extraGroups = [ \"wheel\" ]; }};\n"
            "}\n"
        )
        path = directory / f"module-{i:04}.nix"
        path.write_text(text)
        names.append(str(path))
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--files", type=int, default=1000)
    opts = parser.parse_args()
    nix = shutil.which("nix-instantiate")
    if nix is None:
        sys.exit("nix-instantiate is not installed (apt-get install -y nix-bin)")
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
          f"{opts.runs} runs each, interleaved\n")
    # Byte-compile first, as pip does when it installs a package (this environment sets
    # PYTHONDONTWRITEBYTECODE, so freshly edited modules would be compiled on every run).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "nixgen")],
                   stdout=subprocess.DEVNULL, check=False)
    ng = nixgen_argv()
    floor = [wall([*ng, "--help"]) for _ in range(opts.runs)]
    print(f"floor: `nixgen --help` (Python + typer start-up) median "
          f"{statistics.median(floor) * 1000:.1f} ms\n")
    eval_ms, _ = compare("eval '1 + 1' (whole process)",
                         [*ng, "eval", "1 + 1", *OFFLINE],
                         [nix, *OFFLINE, "--eval", "-E", "1 + 1"], opts.runs)
    print(f"  target nixgen < 150 ms: {'met' if eval_ms < 0.150 else 'NOT met'}\n")
    with tempfile.TemporaryDirectory(prefix="nixgen-bench-eval-") as tmp:
        files = generate(Path(tmp), opts.files)
        ours, theirs = compare(f"check-syntax over {len(files)} files",
                               [*ng, "check-syntax", *files, *OFFLINE],
                               [nix, *OFFLINE, "--parse", *files], opts.runs)
        ratio = ours / theirs
        print(f"  target within 1.5x: {'met' if ratio <= 1.5 else 'NOT met'}")
        # What the command costs before any file is read: Python, typer, every command module.
        startup = [wall([*ng, "check-syntax", "--help"]) for _ in range(opts.runs)]
        print(f"  (budget at 1.5x: {theirs * 1.5 * 1000:.1f} ms; `nixgen check-syntax --help` "
              f"alone: median {statistics.median(startup) * 1000:.1f} ms)")
        treesitter_only = [wall([*ng, "check-syntax", "--no-nix", *files]) for _ in range(5)]
        print(f"  (tree-sitter only, no Nix: median {statistics.median(treesitter_only) * 1000:.1f} ms)")
        # 5% bad files: half syntax errors (tree-sitter sees them), half undefined variables
        # (only Nix does). Nix stops at each; nixgen resumes in parallel batches.
        bad = files[::20]
        for k, name in enumerate(bad):
            Path(name).write_text("{ a = ; }\n" if k % 2 else "{ a = undefinedThing; }\n")
        with_errors = [wall([*ng, "check-syntax", *files, *OFFLINE], expect=1) for _ in range(5)]
        report = subprocess.run([*ng, "check-syntax", *files, *OFFLINE], capture_output=True,
                                text=True).stdout.splitlines()
        reported = {line.split(":", 1)[0] for line in report}
        print(f"  with {len(bad)} bad files among them: nixgen median "
              f"{statistics.median(with_errors) * 1000:.1f} ms; reported {len(reported)} files, "
              f"{'exactly the bad ones' if reported == set(bad) else 'NOT the bad ones'}")


if __name__ == "__main__":
    main()
