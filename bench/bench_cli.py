"""Whole-process speed of ``nixgen set`` on a 300-line configuration, and where start-up time goes.

Prints the median wall time of 15 runs of
``nixgen set services.openssh.ports '[ 2022 ]' -f FILE`` (the file is restored before every
run, so each run really writes), the same for a bare ``python -c pass`` as the floor, and the
slowest imports reported by ``python -X importtime``. Target: under 120 ms.

Bytecode caching is switched on for the runs (``PYTHONDONTWRITEBYTECODE`` removed) and one
warm-up run precedes each measurement, as on an installed system where ``.pyc`` files exist.

Usage: .venv/bin/python bench/bench_cli.py [--runs N] [--top N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 120.0


def nixgen_script() -> Path:
    """The console script installed next to this interpreter (the venv's nixgen)."""
    script = Path(sys.executable).parent / "nixgen"
    if not script.exists():
        sys.exit(f"no nixgen script at {script}; run scripts/setup.sh first")
    return script


def make_config(lines: int = 300) -> bytes:
    """A realistic host configuration of about ``lines`` lines."""
    out = [
        "# Host configuration used by the CLI benchmark.",
        "{ config, pkgs, lib, ... }:",
        "",
        "let",
        "  adminKeys = [ \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKeyOnly admin@bench\" ];",
        "in",
        "{",
        "  imports = [ ./hardware-configuration.nix ];",
        "",
        "  networking.hostName = \"bench\";",
        "  services.openssh.enable = true;",
        "  services.openssh.ports = [ 22 ];",
        "",
    ]
    n = 0
    while len(out) < lines - 3:
        out += [
            f"  # service number {n}",
            f"  systemd.services.worker{n} = {{",
            f"    description = \"Worker {n}\";",
            "    wantedBy = [ \"multi-user.target\" ];",
            f"    serviceConfig.ExecStart = \"${{pkgs.coreutils}}/bin/sleep {n + 1}\";",
            "    serviceConfig.Restart = \"always\";",
            "  };",
            f"  users.users.worker{n} = {{ isSystemUser = true; group = \"workers\"; }};",
            "",
        ]
        n += 1
    out += ["  system.stateVersion = \"23.11\";", "}", ""]
    return "\n".join(out).encode()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_runs(argv: list[str], runs: int, env: dict[str, str],
              before: tuple[Path, bytes] | None = None) -> tuple[list[float], float]:
    """Wall times in milliseconds and the median CPU time (user + system) of the same runs.

    CPU time moves less than wall time when the machine is busy with other work. ``before``
    restores a file's content before each run.
    """
    times, cpu = [], []
    subprocess.run(argv, env=env, capture_output=True)  # warm-up: bytecode caches, page cache
    for _ in range(runs):
        if before is not None:
            before[0].write_bytes(before[1])
        cpu_start = _children_cpu()
        start = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((_children_cpu() - cpu_start) * 1000)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed:\n{proc.stderr.decode()}")
    return times, statistics.median(cpu)


def import_offenders(argv: list[str], env: dict[str, str], top: int) -> list[tuple[int, int, str]]:
    """(cumulative µs, self µs, module) of the slowest imports of one run."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], env=env, capture_output=True, text=True
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|", 2)
        rows.append((int(cumulative_us), int(self_us), name.strip()))
    rows.sort(reverse=True)
    return rows[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nixgen-bench-cli-"))
    try:
        config = work / "configuration.nix"
        original = make_config()
        config.write_bytes(original)
        env = {**os.environ, "NIXGEN_STATE_DIR": str(work / "state"), "NO_COLOR": "1"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        set_argv = [str(nixgen_script()), "set", "services.openssh.ports", "[ 2022 ]",
                    "-f", str(config)]

        floor = time_runs([sys.executable, "-c", "pass"], args.runs, env)
        help_times = time_runs([str(nixgen_script()), "--help"], args.runs, env)
        set_times = time_runs(set_argv, args.runs, env, before=(config, original))
        noop_times = time_runs(set_argv, args.runs, env)  # already 2022: "nothing to change"
        assert b"[ 2022 ]" in config.read_bytes()

        lines = original.count(b"\n")
        print(f"configuration: {lines} lines, {len(original)} bytes; {args.runs} runs each; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'':<26} {'wall median':>12} {'min':>8} {'cpu median':>11}")
        rows = [("python -c pass (floor)", floor), ("nixgen --help", help_times),
                ("nixgen set … (writes)", set_times), ("nixgen set … (no-op)", noop_times)]
        for label, (times, cpu_ms) in rows:
            print(f"{label:<26} {statistics.median(times):9.1f} ms {min(times):5.1f} ms"
                  f" {cpu_ms:8.1f} ms")
        median_set = statistics.median(set_times[0])
        verdict = "OK" if median_set < TARGET_MS else "SLOW"
        print(f"target < {TARGET_MS:.0f} ms: {verdict} "
              f"({median_set / TARGET_MS:.2f} of the budget; "
              f"{median_set - statistics.median(floor[0]):.1f} ms above the interpreter floor)")

        config.write_bytes(original)
        module_argv = ["-m", "nixgen", *set_argv[1:]]
        print(f"\nslowest imports of one `nixgen set` (python -X importtime), top {args.top}:")
        print(f"{'cumulative ms':>14} {'self ms':>8}  module")
        for cumulative, self_us, name in import_offenders(module_argv, env, args.top):
            print(f"{cumulative / 1000:14.1f} {self_us / 1000:8.1f}  {name}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
