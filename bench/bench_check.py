"""Wall time of ``nixgen check`` over 200 configuration files as one process (target < 2 s).

Each generated file is a plausible host configuration of about 120 lines: users, services,
a few containers in both dialects, ``with pkgs.lib;`` in some (NG201), a merged set (NG103),
and an imported hardware module shared by all. Also times the library call in-process.
Prints min and median of several runs and the ratio to the target.
Usage: ``python bench/bench_check.py [RUNS]``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 2.0
FILES = 200


def configuration(i: int) -> str:
    header = "{ config, pkgs, ... }:\nwith pkgs.lib;\n" if i % 3 == 0 else \
        "{ config, pkgs, lib, ... }:\n"
    out = [
        header + "{",
        "  imports = [ ./hardware-configuration.nix ];",
        f'  networking = {{ hostName = "host{i}"; }};',
        "  networking.firewall.enable = true;   # merged into the set above",
        "  services.openssh.enable = true;",
        "  services.openssh.ports = [ 22 ];",
    ]
    for u in range(8):
        out += [
            f"  users.users.user{u} = {{",
            "    isNormalUser = true;",
            f'    description = "User {u} of host {i}";',
            '    extraGroups = [ "wheel" "audio" ];',
            f"    uid = {1000 + u};",
            "  };",
        ]
    for c in range(3):
        out += [
            f"  containers.c{c} = {{",
            "    privateNetwork = true;",
            f'    hostAddress = "10.{i % 250}.{c}.1";',
            f'    localAddress = "10.{i % 250}.{c}.2";',
            f"    forwardPorts = [ {{ hostPort = {8000 + c}; containerPort = 80; }} ];",
            "    config = { services.nginx.enable = true; };",
            "  };",
        ]
    out += [
        "  # nixgen: allow-shared-network",
        "  systemd.containers.legacy.config = {",
        "    services.openssh.enable = true;",
        "    services.openssh.ports = [ 2022 ];",
        "  };",
    ]
    for e in range(20):
        out.append(f'  environment.etc."bench/{e}.conf".text = "value {e}";  # {e}')
    out += ['  system.stateVersion = "23.11";', "}", ""]
    return "\n".join(out)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "hardware-configuration.nix").write_text(
            '{ lib, ... }:\n{\n  boot.loader.grub.device = "/dev/sda";\n'
            '  fileSystems."/".device = "/dev/sda1";\n}\n')
        paths = []
        for i in range(FILES):
            path = root / f"host{i:03}.nix"
            path.write_text(configuration(i))
            paths.append(str(path))
        lines = sum(p.count("\n") for p in map(lambda s: Path(s).read_text(), paths))
        argv = [sys.executable, "-m", "nixgen", "check", *paths, "--format", "json"]
        times = []
        findings = None
        for _ in range(runs):
            start = time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            if proc.returncode not in (0, 1):
                sys.exit(f"nixgen check failed: {proc.stderr}")
            findings = proc.stdout.count('"code"')
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from nixgen.checks import check_paths

        lib_times = []
        for _ in range(runs):
            start = time.perf_counter()
            check_paths(paths)
            lib_times.append(time.perf_counter() - start)
    best, median = min(times), statistics.median(times)
    print(f"nixgen check over {FILES} files ({lines} lines, {findings} findings), one process:")
    print(f"  min {best:.3f} s  median {median:.3f} s  target {TARGET_S:.1f} s  "
          f"ratio {median / TARGET_S:.2f}")
    print(f"  library check_paths in-process: min {min(lib_times):.3f} s  "
          f"median {statistics.median(lib_times):.3f} s")


if __name__ == "__main__":
    main()
