"""Wall time of the container commands as whole processes, as a user runs them.

* ``nixgen add-container foo --port 2022`` on a 300-line configuration (target: < 150 ms),
  writing the file (a fresh copy each run);
* ``nixgen list-containers`` over a configuration with 10 imported modules (target: < 200 ms).

For scale it also times a bare ``python -c pass`` and ``nixgen --help``. Prints min and median
of several runs and the ratio to the target. Usage: ``python bench/bench_containers.py [RUNS]``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_ADD_MS = 150.0
TARGET_LIST_MS = 200.0


def host_config(lines: int) -> str:
    """A plausible host configuration of about ``lines`` lines without containers."""
    out = [
        "{ config, pkgs, lib, ... }:",
        "",
        "{",
        "  imports = [ ./hardware-configuration.nix ];",
        "",
        '  boot.loader.grub.device = "/dev/sda";',
        '  networking.hostName = "bench";',
        "  services.openssh.enable = true;",
        "",
    ]
    i = 0
    while len(out) < lines - 3:
        out += [
            f"  users.users.user{i} = {{",
            "    isNormalUser = true;",
            f'    description = "User number {i}";',
            '    extraGroups = [ "wheel" "networkmanager" ];',
            f"    uid = {1000 + i};",
            "  };",
            f'  environment.etc."bench/{i}.conf".text = "value {i}"; # comment {i}',
            "",
        ]
        i += 1
    out += ['  system.stateVersion = "23.11";', "}", ""]
    return "\n".join(out)


def module(i: int) -> str:
    return (
        "{ lib, ... }:\n{\n"
        f"  containers.c{i} = {{\n"
        "    autoStart = true;\n"
        f"    config = {{ services.openssh.enable = true; services.openssh.ports = [ {3000 + i} ]; }};\n"
        "  };\n"
        f'  environment.etc."m{i}".text = "{i}";\n'
        "}\n"
    )


def time_runs(argv: list[str], runs: int, env: dict[str, str],
              before: callable | None = None) -> list[float]:  # type: ignore[valid-type]
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
        if proc.returncode != 0:
            sys.exit(f"failed: {argv}\n{proc.stderr.decode()}")
    return times


def report(label: str, times: list[float], target: float | None = None) -> None:
    best, median = min(times), statistics.median(times)
    line = f"{label:<48} min {best:7.1f} ms   median {median:7.1f} ms"
    if target:
        line += f"   target {target:.0f} ms (median/target {median / target:.2f})"
    print(line)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {**os.environ, "NIXGEN_STATE_DIR": str(root / "state"), "NO_COLOR": "1"}
        big = root / "big"
        big.mkdir()
        source = host_config(300)
        (big / "hardware-configuration.nix").write_text("{ ... }: { }\n")
        cfg = big / "configuration.nix"

        def fresh() -> None:
            cfg.write_text(source)
            shutil.rmtree(root / "state", ignore_errors=True)

        many = root / "many"
        (many / "modules").mkdir(parents=True)
        for i in range(10):
            (many / "modules" / f"m{i}.nix").write_text(module(i))
        imports = " ".join(f"./modules/m{i}.nix" for i in range(10))
        (many / "configuration.nix").write_text(
            f"{{ ... }}:\n{{\n  imports = [ {imports} ];\n  services.openssh.enable = true;\n}}\n"
        )

        print(f"{len(source.splitlines())}-line configuration, {runs} runs each")
        report("python -c pass", time_runs([py, "-c", "pass"], runs, env))
        report("nixgen --help", time_runs([py, "-m", "nixgen", "--help"], runs, env))
        report(
            "nixgen add-container foo --port 2022",
            time_runs([py, "-m", "nixgen", "add-container", "foo", "--port", "2022",
                       "-f", str(cfg)], runs, env, before=fresh),
            TARGET_ADD_MS,
        )
        report(
            "nixgen list-containers (10 imported modules)",
            time_runs([py, "-m", "nixgen", "list-containers", "-f",
                       str(many / "configuration.nix")], runs, env),
            TARGET_LIST_MS,
        )


if __name__ == "__main__":
    main()
