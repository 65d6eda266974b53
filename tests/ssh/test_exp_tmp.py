import asyncio, collections
from tests.ssh.test_executor import executor, echo, ssh_server

async def test_x(executor, sshd, httpd):
    server = ssh_server(sshd, httpd.port)
    assert await echo(executor, server) == b"hello"
    link = await executor.link(server)
    conn = await link.connection()
    counts = collections.Counter()
    orig = conn.send_packet
    def sp(pkttype, *args, **kw):
        counts[pkttype] += 1
        return orig(pkttype, *args, **kw)
    conn.send_packet = sp
    orig_send = conn._send
    sends = [0]
    def s(data):
        sends[0] += 1; return orig_send(data)
    conn._send = s
    for _ in range(100):
        await echo(executor, server)
    print(counts, sends)
