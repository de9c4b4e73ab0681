"""What a user asks for when adding a NixOS container, and the checks on it.

:class:`ContainerSpec` is the request (name, ports, keys, route, dialect and the options of the
modern ``containers.<name>`` module). The functions here validate each part and turn the
command-line forms ``HOST[:CONTAINER][/tcp|udp]`` and ``HOST[:CONTAINER][:ro|rw]`` into the
attribute sets NixOS expects. Every problem is a :class:`~nixgen.errors.ValidationError` (bad
value) or :class:`~nixgen.errors.UsageError` (options that do not fit together).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import posixpath
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nixgen.errors import FileError, UsageError, ValidationError

Route = Literal["config", "path"]
Dialect = Literal["auto", "legacy", "modern"]

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
# The host side of a private network is the interface ``ve-NAME``; Linux allows 15 characters.
PRIVATE_NETWORK_NAME_MAX = 11

SSH_KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ssh-dss",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)

# Options of ``containers.<name>`` that the 2014 ``systemd.containers.<name>`` never had.
MODERN_ONLY_FLAGS = {
    "auto_start": "--auto-start (autoStart)",
    "private_network": "--private-network (privateNetwork)",
    "host_address": "--host-address (hostAddress)",
    "local_address": "--local-address (localAddress)",
    "forward_ports": "--forward-port (forwardPorts)",
    "bind_mounts": "--bind-mount (bindMounts)",
}


@dataclass
class ContainerSpec:
    """A request to add (or extend) one container."""

    name: str
    ports: list[int] = field(default_factory=list)
    ssh_keys: list[str] = field(default_factory=list)
    route: Route | None = "config"  # None: keep the route of an existing container
    dialect: Dialect = "auto"
    auto_start: bool = False
    private_network: bool = False
    host_address: str | None = None
    local_address: str | None = None
    forward_ports: list[str] = field(default_factory=list)
    bind_mounts: list[str] = field(default_factory=list)
    replace: bool = False
    force: bool = False

    def modern_only_options(self) -> list[str]:
        """The modern-only options this request uses, as the user wrote them."""
        used = []
        for attr, label in MODERN_ONLY_FLAGS.items():
            if getattr(self, attr):
                used.append(label)
        return used


def validate_name(name: str, *, private_network: bool = False) -> str:
    """Check a container name; return it unchanged."""
    if not name:
        raise ValidationError("the container name is empty")
    if not NAME_RE.match(name):
        if name[0].isdigit() or name[0] == "-":
            reason = "must not start with a digit or '-'"
        else:
            reason = "may contain only letters, digits and '-'"
        raise ValidationError(f"invalid container name {name!r}: it {reason}")
    if name == "host":
        raise ValidationError(
            "invalid container name 'host': nixgen build, generations and rollback use 'host' "
            "for the host's own system; choose another name"
        )
    if private_network and len(name) > PRIVATE_NETWORK_NAME_MAX:
        raise ValidationError(
            f"container name {name!r} is {len(name)} characters long; with --private-network "
            f"it may have at most {PRIVATE_NETWORK_NAME_MAX} (the host interface is ve-{name})"
        )
    return name


def validate_port(port: int, what: str = "port") -> int:
    """Check one TCP/UDP port number."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValidationError(f"invalid {what} {port!r}: must be a number from 1 to 65535")
    return port


def validate_ports(ports: list[int]) -> list[int]:
    """Check every port and that none is given twice."""
    seen: set[int] = set()
    for port in ports:
        validate_port(port)
        if port in seen:
            raise ValidationError(f"port {port} is given twice")
        seen.add(port)
    return list(ports)


def validate_ssh_key(key: str) -> str:
    """Check the shape of an OpenSSH public key line (``TYPE BASE64 [COMMENT]``); return it stripped."""
    text = key.strip()
    if not text:
        raise ValidationError("the SSH key is empty")
    if "\n" in text or "\r" in text:
        raise ValidationError("an SSH key must be a single line")
    parts = _without_options(text).split(None, 2)
    kind = parts[0]
    short = text if len(text) <= 40 else text[:37] + "..."
    if kind not in SSH_KEY_TYPES:
        raise ValidationError(
            f"invalid SSH key {short!r}: unknown key type {kind!r} (expected one of "
            "ssh-ed25519, ssh-rsa, ecdsa-sha2-*, ssh-dss, sk-*)"
        )
    if len(parts) < 2:
        raise ValidationError(f"invalid SSH key {short!r}: the base64 key data is missing")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(f"invalid SSH key {short!r}: the key data is not base64") from None
    if len(blob) < 4:
        raise ValidationError(f"invalid SSH key {short!r}: the key data is too short")
    (length,) = struct.unpack(">I", blob[:4])
    if blob[4 : 4 + length] != kind.encode():
        raise ValidationError(
            f"invalid SSH key {short!r}: the key data does not hold a {kind} key"
        )
    return text


# authorized_keys options before the key: ``from="a,b",command="x y",no-pty ssh-ed25519 …``
_OPTION = r'[A-Za-z0-9-]+(?:="(?:[^"\\]|\\.)*")?'
_OPTIONS_RE = re.compile(rf"^{_OPTION}(?:,{_OPTION})*\s+")


def _without_options(line: str) -> str:
    """A key line without its leading authorized_keys options (unchanged when it has none)."""
    first = line.split(None, 1)[0] if line.split() else ""
    if first in SSH_KEY_TYPES:
        return line
    match = _OPTIONS_RE.match(line)
    return line[match.end() :] if match else line


def key_identity(key: str) -> tuple[str, ...]:
    """What makes two key lines the same key: the type and the key data (not the comment,
    not the authorized_keys options)."""
    return tuple(_without_options(key).split(None, 2)[:2])


def unique_keys(keys: Iterable[str]) -> list[str]:
    """``keys`` without repeats of the same key (the first line of each is kept)."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for key in keys:
        identity = key_identity(key)
        if identity not in seen:
            seen.add(identity)
            out.append(key)
    return out


def read_ssh_key_file(path: str | Path) -> list[str]:
    """The keys of an ``authorized_keys``-style file (blank lines and ``#`` comments skipped)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileError("no such file (given to --ssh-key-file)", file=file) from None
    except IsADirectoryError:
        raise FileError("is a directory, not a key file", file=file) from None
    except PermissionError:
        raise FileError("permission denied: cannot read the key file", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FileError(f"cannot read the key file: {exc}", file=file) from None
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            keys.append(validate_ssh_key(stripped))
        except ValidationError as err:
            raise ValidationError(err.message, file=file, line=number) from None
    if not keys:
        raise ValidationError("the key file holds no SSH key", file=file)
    return keys


def parse_ip(text: str, option: str, *, allow_prefix: bool = False) -> str:
    """Check an IPv4/IPv6 address (``allow_prefix``: also ``ADDR/PREFIX``); return it normalised."""
    try:
        if allow_prefix and "/" in text:
            return str(ipaddress.ip_interface(text))
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValidationError(f"invalid IP address {text!r} given to {option}") from None


def is_ipv6(text: str) -> bool:
    """Whether an address (possibly with a prefix) is IPv6."""
    return ipaddress.ip_interface(text).version == 6


def parse_forward_port(text: str) -> dict[str, object]:
    """``HOST[:CONTAINER][/tcp|udp]`` -> ``{hostPort, containerPort, protocol}``."""
    spec, _, protocol = text.partition("/")
    protocol = protocol or "tcp"
    if protocol not in ("tcp", "udp"):
        raise ValidationError(
            f"invalid --forward-port {text!r}: the protocol must be tcp or udp"
        )
    host, colon, container = spec.partition(":")
    numbers = []
    for part in (host, container if colon else host):
        if not part.isdigit():
            raise ValidationError(
                f"invalid --forward-port {text!r}: expected HOST[:CONTAINER][/tcp|udp]"
            )
        numbers.append(validate_port(int(part), "port in --forward-port"))
    return {"hostPort": numbers[0], "containerPort": numbers[1], "protocol": protocol}


def parse_bind_mount(text: str) -> tuple[str, dict[str, object]]:
    """``HOST[:CONTAINER][:ro|rw]`` -> ``(container path, {hostPath, isReadOnly})``."""
    parts = text.split(":")
    read_only = True
    if len(parts) > 1 and parts[-1] in ("ro", "rw"):
        read_only = parts.pop() == "ro"
    if len(parts) > 2 or not parts[0]:
        raise ValidationError(
            f"invalid --bind-mount {text!r}: expected HOST[:CONTAINER][:ro|rw]"
        )
    host = parts[0]
    target = parts[1] if len(parts) == 2 and parts[1] else host
    for path in (host, target):
        if not path.startswith("/"):
            raise ValidationError(
                f"invalid --bind-mount {text!r}: {path!r} is not an absolute path"
            )
    return _clean_path(target), {"hostPath": _clean_path(host), "isReadOnly": read_only}


def _clean_path(path: str) -> str:
    """An absolute path without ``//``, ``.``, ``..`` or a trailing ``/`` (``/srv/`` is ``/srv``)."""
    clean = posixpath.normpath(path)
    return "/" + clean.lstrip("/")


def validate_spec(
    spec: ContainerSpec, *, dialect: str, has_private_network: bool = False
) -> ContainerSpec:
    """Check the whole request for the chosen dialect (``legacy`` or ``modern``).

    ``has_private_network``: the container being extended already has a private network
    (``privateNetwork = true;``), so addresses and forwarded ports need no --private-network.
    """
    if spec.route not in (None, "config", "path"):
        raise UsageError(f"invalid route {spec.route!r}: expected config or path")
    validate_name(spec.name, private_network=spec.private_network)
    validate_ports(spec.ports)
    spec.ssh_keys = unique_keys(validate_ssh_key(k) for k in spec.ssh_keys)
    if dialect == "legacy":
        used = spec.modern_only_options()
        if used:
            verb = "exist" if len(used) > 1 else "exists"
            raise ValidationError(
                f"{', '.join(used)} {verb} only in the modern dialect (containers.<name>); "
                "systemd.containers.<name> has only config and path - use --dialect modern"
            )
    private = spec.private_network or has_private_network
    if (spec.host_address or spec.local_address or spec.forward_ports) and not private:
        raise UsageError(
            "--host-address, --local-address and --forward-port need --private-network"
        )
    if spec.host_address:
        spec.host_address = parse_ip(spec.host_address, "--host-address")
    if spec.local_address:
        spec.local_address = parse_ip(spec.local_address, "--local-address", allow_prefix=True)
    host_ports: set[tuple[object, object]] = set()
    for item in spec.forward_ports:
        parsed = parse_forward_port(item)
        key = (parsed["hostPort"], parsed["protocol"])
        if key in host_ports:
            raise ValidationError(f"host port {parsed['hostPort']} is forwarded twice")
        host_ports.add(key)
    targets: set[str] = set()
    for item in spec.bind_mounts:
        target, _ = parse_bind_mount(item)
        if target in targets:
            raise ValidationError(f"{target} is bind-mounted twice")
        targets.add(target)
    return spec
