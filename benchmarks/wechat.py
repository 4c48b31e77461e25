"""WeChat webhook: how fast a client's message is answered in the HTTP response.

1,000 signed, encrypted (safe mode) text messages from 100 clients to the real webhook of
`python -m bot run` (WeChat channel only, SQLite, a fake official API in this process), twice:
each client sending its next message the moment the previous one is answered (the worst
case: 100 requests always open), then writing again about a second after each answer.
Printed: latency p50 / p99 / max from the POST to the answer (WeChat gives up at 5 s; the
target p99 is 500 ms), and the share of answers given passively vs through the
customer-service API. Beside it, in the same run, a bare aiohttp webhook that checks the
signature, decrypts with wechatpy and answers at once (no recording, no FAQ): the floor of
the protocol work.

    .venv/bin/python benchmarks/wechat.py [--messages 1000] [--clients 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procs import ROOT, cpu_seconds, peak_rss_mb, spawn, stop
from tests.fakes.wechat_api import FakeWechatApi, Interactions
from tests.fakes.wechat_server import WechatServer, parse_xml, signature

TOKEN, APPID = "benchTOKEN", "wx0123456789abcdef"
SECRET = "0123456789abcdef0123456789abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
QUESTIONS = ("怎么开户", "手续费是多少", "/topics", "你好", "交易时间是什么时候")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def load(
    url: str, messages: int, clients: int, interactions: Interactions, think: float = 0.0
) -> dict:  # type: ignore[type-arg]
    """Each client sends its share one after another, `think` seconds (on average) after each
    answer; returns latencies and reply counts."""
    server = WechatServer(url, TOKEN, APPID, encoding_aes_key=AES_KEY,
                          interactions=interactions, timeout=10.0, attempts=1)  # fmt: skip
    latencies: list[float] = []
    passive = errors = 0

    async def client(n: int) -> None:
        nonlocal passive, errors
        openid = f"o_bench_{n:020d}"
        if think:  # people do not all press send in the same millisecond
            await asyncio.sleep(random.uniform(0, think))
        for i in range(messages // clients):
            started = time.perf_counter()
            result = await server.send_text(openid, QUESTIONS[(n + i) % len(QUESTIONS)])
            latencies.append(time.perf_counter() - started)
            if result.status != 200:
                errors += 1
            elif result.reply is not None:
                passive += 1
            if think:
                await asyncio.sleep(think * random.uniform(0.5, 1.5))

    # Every client follows first (as real ones have), outside the measurement.
    await asyncio.gather(*(server.follow(f"o_bench_{n:020d}") for n in range(clients)))
    t0 = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    wall = time.perf_counter() - t0
    await server.close()
    return {"latencies": latencies, "passive": passive, "errors": errors, "wall": wall}


def bare_app() -> web.Application:
    """The protocol's floor: signature, decryption, XML, an encrypted answer; nothing kept."""
    from wechatpy.crypto import WeChatCrypto

    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)

    async def receive(request: web.Request) -> web.Response:
        q = request.query
        if q.get("signature") != signature(TOKEN, q["timestamp"], q["nonce"]):
            return web.Response(status=403)
        body = await request.read()
        plain = crypto.decrypt_message(body, q["msg_signature"], q["timestamp"], q["nonce"])
        fields = parse_xml(plain)
        reply = (f"<xml><ToUserName><![CDATA[{fields['FromUserName']}]]></ToUserName>"
                 f"<FromUserName><![CDATA[{fields['ToUserName']}]]></FromUserName>"
                 f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                 "<Content><![CDATA[收到]]></Content></xml>")  # fmt: skip
        return web.Response(text=crypto.encrypt_message(reply, q["nonce"]))

    app = web.Application()
    app.router.add_post("/wechat", receive)
    return app


async def bare(messages: int, clients: int, think: float = 0.0) -> dict:  # type: ignore[type-arg]
    runner = web.AppRunner(bare_app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        url = f"http://127.0.0.1:{port}/wechat"
        return await load(url, messages, clients, Interactions(), think)
    finally:
        await runner.cleanup()


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if values else 0


async def ours(messages: int, clients: int, think: float = 0.0, **extra: str) -> dict:  # type: ignore[type-arg]
    interactions = Interactions()
    async with FakeWechatApi(APPID, SECRET, interactions=interactions) as api:
        with tempfile.TemporaryDirectory(prefix="bench-wechat-") as tmp:
            port = free_port()
            env = {
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bot.db'}",
                "BOT_ADMINS": "console:ops",
                "WECHAT_TOKEN": TOKEN,
                "WECHAT_APP_ID": APPID,
                "WECHAT_APP_SECRET": SECRET,
                "WECHAT_ENCODING_AES_KEY": AES_KEY,
                "WECHAT_API_BASE": api.base_url,
                "HTTP_HOST": "127.0.0.1",
                "HTTP_PORT": str(port),
                "LOG_LEVEL": "WARNING",
                **extra,
            }
            proc = await spawn("-m", "bot", "run", "--no-console", env=env, cwd=Path(tmp))
            try:
                url = f"http://127.0.0.1:{port}/wechat"
                await wait_ready(f"http://127.0.0.1:{port}/healthz", proc)
                cpu0 = cpu_seconds(proc.pid)
                result = await load(url, messages, clients, interactions, think)
                await asyncio.sleep(2.0)  # replies that took the API
                result["cpu"] = cpu_seconds(proc.pid) - cpu0
                result["rss"] = peak_rss_mb(proc.pid)
                result["api"] = len(api.custom_sends)
            finally:
                _, err = await stop(proc)
            if "Traceback" in err:
                print(err[-3000:], file=sys.stderr)
            return result


async def wait_ready(url: str, proc: asyncio.subprocess.Process) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if proc.returncode is not None:
                raise RuntimeError((await stop(proc))[1][-2000:])
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the bot did not start")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args()
    os.chdir(ROOT)
    n, c = args.messages, args.clients
    print(f"{n} encrypted messages from {c} clients")
    loads = ((0.0, "each client's next message the moment it is answered"),
             (1.0, "each client writing again about a second after the answer"))  # fmt: skip
    for think, what in loads:
        r = await ours(n, c, think)
        b = await bare(n, c, think)
        lat, base = r["latencies"], b["latencies"]
        print(f"- {what}:")
        print(f"  bot:  p50 {pct(lat, 50) * 1000:.0f} ms, p99 {pct(lat, 99) * 1000:.0f} ms, "
              f"max {max(lat) * 1000:.0f} ms, {len(lat) / r['wall']:.0f} messages/s, "
              f"{r['cpu'] * 1000 / len(lat):.2f} CPU ms per message, peak RSS {r['rss']:.0f} MB; "
              f"answered passively {r['passive'] / len(lat):.1%}, through the API "
              f"{r['api'] / len(lat):.1%}, refused {r['errors']}")  # fmt: skip
        print(f"  bare: p50 {pct(base, 50) * 1000:.0f} ms, p99 {pct(base, 99) * 1000:.0f} ms, "
              f"{len(base) / b['wall']:.0f} messages/s; throughput ratio bot/bare "
              f"{(len(lat) / r['wall']) / (len(base) / b['wall']):.2f}; p99 target 500 ms "
              f"{'met' if pct(lat, 99) <= 0.5 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
