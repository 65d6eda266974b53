"""A network namespace joined to this one by a veth pair: a "remote host" reachable only by IP.

Inside the namespace only its own loopback and the veth end exist, so a process bound to its
127.0.0.1 cannot be reached from here, and cannot reach this host's loopback (where the DAL is).
Needs root and iproute2 (``ip netns``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Netns:
    name: str
    host_ip: str
    """Our end of the veth pair."""
    ns_ip: str
    """The namespace's end: where its sshd listens."""

    def run(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace."""
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def netns_missing_reason() -> str | None:
    """Why a network namespace cannot be made here, or None when it can."""
    if os.getuid() != 0:
        return "the network-namespace test needs root (ip netns add)"
    if shutil.which("ip") is None:
        return "the network-namespace test needs iproute2 (the ip command)"
    probe = f"merprobe{secrets.token_hex(3)}"
    made = _ip("netns", "add", probe)
    if made.returncode != 0:
        return f"cannot create a network namespace here: {made.stderr.strip()}"
    _ip("netns", "del", probe)
    return None


@contextmanager
def network_namespace() -> Iterator[Netns]:
    tag = secrets.token_hex(3)
    octet = int(tag[:2], 16)
    ns = Netns(f"mer{tag}", host_ip=f"10.213.{octet}.1", ns_ip=f"10.213.{octet}.2")
    ours, theirs = f"mer{tag}a", f"mer{tag}b"
    steps = [
        ("netns", "add", ns.name),
        ("link", "add", ours, "type", "veth", "peer", "name", theirs, "netns", ns.name),
        ("addr", "add", f"{ns.host_ip}/30", "dev", ours),
        ("link", "set", ours, "up"),
        ("-n", ns.name, "addr", "add", f"{ns.ns_ip}/30", "dev", theirs),
        ("-n", ns.name, "link", "set", theirs, "up"),
        ("-n", ns.name, "link", "set", "lo", "up"),
    ]
    try:
        for step in steps:
            done = _ip(*step)
            if done.returncode != 0:
                raise RuntimeError(f"ip {' '.join(step)} failed: {done.stderr.strip()}")
        yield ns
    finally:
        # Deleting the namespace deletes its veth end, and with it ours.
        _ip("netns", "del", ns.name)


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
