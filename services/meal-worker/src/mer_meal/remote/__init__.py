"""Remote execution over SSH: the gateway's link to each remote server and its worker there.

    connect    open one SSH connection: host keys, key login, timeouts, errors in MER's terms
    link       one long-lived connection per server: state, keepalives, reconnect with backoff
    ssh_pool   the links of a gateway, one per server
    cork       one packet per request, and writes of one loop turn sent together
    channels   direct-tcpip channels to the remote worker's loopback port
    http1      HTTP/1.1 over those channels, kept alive and pooled
    executor   ``SshExecutor``: ``mer_meal.placement.RemoteExecutor`` over the above
    tunnel     a reverse forward so the remote worker reaches the DAL through the same connection
    starter    ``server start``;  checker: ``server check``;  routes: their HTTP endpoints

``create_executor(settings)`` is what the worker's ``create_app`` uses by default.
"""

from __future__ import annotations

from mer_core.settings import WorkerSettings

from mer_meal.remote.executor import SshExecutor


def create_executor(settings: WorkerSettings) -> SshExecutor:
    """The worker's executor for models placed on other servers."""
    return SshExecutor(settings)


__all__ = ["SshExecutor", "create_executor"]
