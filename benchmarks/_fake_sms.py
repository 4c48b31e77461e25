"""The fake Alibaba Cloud SMS (tests/fakes/aliyun_sms.py) in a process of its own, for
benchmarks/broadcast.py --sms.

    QPS=200 python benchmarks/_fake_sms.py
prints its base URL, then serves until SIGTERM. GET /_stats gives what it saw: texts taken,
distinct numbers, numbers texted twice, calls refused for flow control, the busiest rolling
second, the first and last arrival."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections import Counter
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procs import serve_until_term
from tests.fakes.aliyun_sms import PROMO, FakeAliyunSms, Template
from tests.fakes.telegram_api import peak

KEY_ID, SECRET = "LTAI5tBenchKeyId0000", "benchSecret0123456789abcdefgh"
SIGN = "国瑞投资"
TEMPLATES = [
    Template("SMS_500100001", "${content}"),
    Template("SMS_500100002", "${content}"),
    Template("SMS_500100003", "${content}", PROMO),
]


class BenchSms(FakeAliyunSms):
    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/_stats", self._stats)

    async def _stats(self, request: web.Request) -> web.Response:
        phones = Counter(s.phone for s in self.sent)
        times = sorted(s.sent_at for s in self.sent)
        return web.json_response(
            {
                "sent": len(self.sent),
                "distinct": len(phones),
                "twice": sum(1 for n in phones.values() if n > 1),
                "throttled": sum(1 for c in self.calls if c.code.startswith("Throttling")),
                "calls": len(self.calls),
                "peak": peak(times) if times else 0,
                "first_at": times[0] if times else None,
                "last_at": times[-1] if times else None,
            }
        )


async def main() -> None:
    gc.disable()  # its own collections would bunch its arrival stamps
    qps = os.environ.get("QPS")
    fake = BenchSms({KEY_ID: SECRET}, sign_names=[SIGN], templates=TEMPLATES,
                    qps=int(qps) if qps else None)  # fmt: skip
    await serve_until_term(fake)


if __name__ == "__main__":
    asyncio.run(main())
