"""Benchmark: `nixgen build` of a host with 20 path-route containers against the stand-in NixOS.

Compares, on the same machine in the same run, with fresh systems on both sides:

* naive: one `nix-env -p PROFILE --set -f <stand-in> -A system -I nixos-config=FILE` per
  system (the host and each container), as the NixOS manual describes;
* `nixgen build` (the whole command-line process): one evaluation, one realise, the profiles.

Then a no-op rebuild (`nixgen build` again with nothing changed). Each side uses its own
temporary profile directory and its own configuration text, so neither finds the other's
systems already built. Targets: nixgen at least 3x faster; the no-op rebuild under 1.5 s.

Run: .venv/bin/python bench/bench_build.py [--containers N] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAND_IN = ROOT / "tests" / "fixtures" / "nixos"
OFFLINE = ["--option", "substituters", ""]


def write_config(root: Path, n: int, salt: str) -> Path:
    (root / "containers").mkdir(parents=True)
    lines = ["{ pkgs, ... }:", "{", f'  networking.hostName = "bench-{salt}";',
             "  environment.systemPackages = [ pkgs.vim pkgs.git ];",
             "  services.openssh.enable = true;"]
    for i in range(n):
        name = f"c{i}"
        lines.append(f'  systemd.containers.{name}.path = "/nix/var/nix/profiles/containers/{name}";')
        (root / "containers" / f"{name}.nix").write_text(
            "{ pkgs, ... }:\n{\n  boot.isContainer = true;\n"
            f'  networking.hostName = "{name}-{salt}";\n'
            "  services.openssh.enable = true;\n"
            f"  services.openssh.ports = [ {2200 + i} ];\n"
            "  environment.systemPackages = [ pkgs.htop ];\n}\n"
        )
    lines.append("}")
    config = root / "configuration.nix"
    config.write_text("\n".join(lines) + "\n")
    return config


def run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"command failed: {argv}\n{proc.stderr}")


def naive(root: Path, config: Path, n: int) -> float:
    profiles = root / "profiles"
    (profiles / "containers").mkdir(parents=True)
    systems = [(profiles / "system", config)] + [
        (profiles / "containers" / f"c{i}", root / "containers" / f"c{i}.nix") for i in range(n)
    ]
    start = time.perf_counter()
    for profile, file in reversed(systems):  # containers first, as nixgen does
        run(["nix-env", *OFFLINE, "-p", str(profile), "--set", "-f", str(STAND_IN),
             "-A", "system", "-I", f"nixos-config={file}"])
    return time.perf_counter() - start


def nixgen(config: Path, profiles: Path, jobs: int) -> float:
    start = time.perf_counter()
    run([sys.executable, "-m", "nixgen", "build", "-f", str(config), "--nixos", str(STAND_IN),
         "--profile-dir", str(profiles), "--jobs", str(jobs), *OFFLINE, "--json"])
    return time.perf_counter() - start


def phases(base: Path, n: int, jobs: int) -> dict[str, float]:
    """One in-process build of fresh systems, timed per stage (from the progress callback)."""
    from nixgen.build import BuildOptions, build

    config = write_config(base / "phases", n, uuid.uuid4().hex[:12])
    marks: dict[str, float] = {}
    start = time.perf_counter()
    build(BuildOptions(config=config, nixos=str(STAND_IN), profile_dir=base / "phases-profiles",
                       options=[("substituters", "")], jobs=jobs),
          on_progress=lambda e: marks.setdefault(e.stage, time.perf_counter() - start))
    end = time.perf_counter() - start
    return {
        "discover + evaluate": marks["plan"],
        "realise": marks["profile"] - marks["build"],
        "profiles": end - marks["profile"],
        "total in-process": end,
    }


def one_round(base: Path, n: int, jobs: int) -> tuple[float, float, float]:
    naive_root, nixgen_root = base / "naive", base / "nixgen"
    naive_cfg = write_config(naive_root, n, uuid.uuid4().hex[:12])
    nixgen_cfg = write_config(nixgen_root, n, uuid.uuid4().hex[:12])
    t_naive = naive(naive_root, naive_cfg, n)
    t_nixgen = nixgen(nixgen_cfg, nixgen_root / "profiles", jobs)
    t_noop = nixgen(nixgen_cfg, nixgen_root / "profiles", jobs)
    built = [p for p in (nixgen_root / "profiles" / "containers").iterdir()
             if not p.name.endswith("-link")]
    if len(built) != n:
        sys.exit(f"expected {n} container profiles, found {len(built)}")
    return t_naive, t_nixgen, t_noop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2 * (os.cpu_count() or 1),
                        help="nixgen build --jobs (default: twice the cores; the builds are tiny)")
    parser.add_argument("--rounds", type=int, default=3, help="report the median of N rounds")
    args = parser.parse_args()
    n = args.containers
    rounds = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="nixgen-bench-") as tmp:
            rounds.append(one_round(Path(tmp), n, args.jobs))
        print(f"round {r + 1}: naive {rounds[-1][0]:.2f} s, nixgen {rounds[-1][1]:.2f} s, "
              f"no-op {rounds[-1][2]:.2f} s")
    with tempfile.TemporaryDirectory(prefix="nixgen-bench-") as tmp:
        stages = phases(Path(tmp), n, args.jobs)
    t_naive, t_nixgen, t_noop = (statistics.median(r[i] for r in rounds) for i in range(3))
    ratio = t_naive / t_nixgen
    print(f"systems: host + {n} path-route containers (stand-in NixOS, --jobs {args.jobs}); "
          f"median of {len(rounds)} rounds")
    print(f"naive nix-env --set per system: {t_naive:8.2f} s")
    print(f"nixgen build:                   {t_nixgen:8.2f} s   ({ratio:.1f}x faster; target >= 3x)")
    print(f"nixgen build, no change:        {t_noop:8.2f} s   (target < 1.5 s)")
    print("in-process stages of one build: " + ", ".join(
        f"{name} {seconds:.2f} s" for name, seconds in stages.items()))
    ok = ratio >= 3 and t_noop < 1.5
    print("targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
