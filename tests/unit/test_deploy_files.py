"""deploy/ stays true to the code: the systemd unit runs a command the CLI has, the
environment files name real settings with valid values, and nginx sends the app's own
paths to the ports the instances listen on."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.cli.base import EXIT_USAGE
from bot.cli.program import _parser
from bot.config import Settings, load_settings
from tests.support import ROOT

DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "servicebot@.service"
SHARED_ENV = DEPLOY / "servicebot.env"
ONEBOT_ENV = DEPLOY / "servicebot-8081.env"
NGINX = DEPLOY / "nginx-servicebot.conf"


def unit() -> dict[str, list[tuple[str, str]]]:
    """The unit's sections, each a list of (key, value): systemd repeats keys, so no dict."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in UNIT.read_text("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"not a systemd line: {raw!r}"
        current.append((key.strip(), value.strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


def env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for raw in path.read_text("utf-8").splitlines():
        if raw.strip() and not raw.lstrip().startswith("#"):
            key, sep, value = raw.partition("=")
            assert sep, f"{path.name}: not KEY=value: {raw!r}"
            pairs[key.strip()] = value.strip()
    return pairs


def setting_names() -> set[str]:
    names = set()
    for section in (f.annotation for f in Settings.model_fields.values()):
        prefix = (section.model_config.get("env_prefix") or "").upper()
        names |= {prefix + name.upper() for name in section.model_fields}
    return names


def test_unit_runs_the_bot_the_cli_knows() -> None:
    service = unit()["Service"]
    [exec_start] = values(service, "ExecStart")
    argv = shlex.split(exec_start)
    assert argv[0].endswith("/python") and argv[1:4] == ["-m", "bot", "run"]
    args = _parser().parse_args(argv[3:])  # exits (SystemExit) on anything it does not know
    assert args.command == "run" and args.no_console
    [working] = values(service, "WorkingDirectory")
    assert argv[0].startswith(working + "/")  # the venv of the checkout it runs in


def test_unit_restarts_on_failure_but_not_on_a_setting_to_fix() -> None:
    sections = unit()
    service = sections["Service"]
    assert values(service, "Restart") == ["on-failure"]
    assert values(service, "RestartPreventExitStatus") == [str(EXIT_USAGE)]
    assert values(service, "KillSignal") == ["SIGTERM"]
    # Longer than the bot's own shutdown grace (SHUTDOWN_GRACE), so it is not cut short.
    from bot.cli.serve import SHUTDOWN_GRACE

    assert int(values(service, "TimeoutStopSec")[0]) > SHUTDOWN_GRACE
    assert values(sections["Install"], "WantedBy") == ["multi-user.target"]


def test_each_instance_listens_on_its_own_port() -> None:
    service = unit()["Service"]
    assert "HTTP_PORT=%i" in values(service, "Environment")
    files = values(service, "EnvironmentFile")
    assert files == ["/etc/servicebot/servicebot.env", "-/etc/servicebot/servicebot-%i.env"]
    # An environment file wins over Environment=: the port must not be in one.
    for path in (SHARED_ENV, ONEBOT_ENV):
        assert not {"HTTP_PORT", "HTTP_HOST"} & set(env_file(path)), path.name


@pytest.mark.parametrize("path", [SHARED_ENV, ONEBOT_ENV], ids=lambda p: p.name)
def test_environment_files_name_real_settings(path: Path) -> None:
    unknown = set(env_file(path)) - setting_names()
    assert not unknown, f"{path.name}: not settings: {sorted(unknown)}"


def test_environment_files_load_as_the_instances_would(tmp_path: Path) -> None:
    shared = env_file(SHARED_ENV)
    for environ in (shared, shared | env_file(ONEBOT_ENV)):  # 8082, 8083; then 8081
        settings = load_settings(env_file=None, environ=environ | {"HTTP_PORT": "8081"})
        assert settings.core.database_url.startswith("postgresql+asyncpg://")
        assert settings.telegram.mode == "webhook"
    assert settings.onebot.mode == "reverse"


def nginx_upstreams() -> dict[str, list[int]]:
    text = NGINX.read_text("utf-8")
    return {
        name: [int(p) for p in re.findall(r"server\s+127\.0\.0\.1:(\d+)", body)]
        for name, body in re.findall(r"upstream\s+(\w+)\s*\{([^}]*)\}", text)
    }


def nginx_locations() -> dict[str, str]:
    """location path -> its block's text."""
    text = NGINX.read_text("utf-8")
    return dict(re.findall(r"location\s+(?:=\s+)?(\S+)\s*\{([^}]*)\}", text))


def test_nginx_is_balanced() -> None:
    text = re.sub(r"#[^\n]*", "", NGINX.read_text("utf-8"))
    assert text.count("{") == text.count("}")
    for line in filter(None, (ln.strip() for ln in text.splitlines())):
        assert line.endswith((";", "{", "}")), line


def test_nginx_sends_the_apps_paths_to_the_instances() -> None:
    defaults = load_settings(env_file=None, environ={})
    upstreams, locations = nginx_upstreams(), nginx_locations()
    assert upstreams["servicebot"] == [8081, 8082, 8083]
    for path in (
        defaults.telegram.webhook_path,
        defaults.wechat.webhook_path,
        defaults.wecom.webhook_path,
        defaults.sms.callback_path,
        defaults.staff_console.staff_console_path,
        "/healthz",
    ):
        assert "proxy_pass http://servicebot;" in locations[path], path


def test_nginx_sends_onebots_websocket_to_the_one_instance_that_takes_it() -> None:
    defaults = load_settings(env_file=None, environ={})
    [port] = nginx_upstreams()["servicebot_onebot"]
    assert ONEBOT_ENV.name == f"servicebot-{port}.env"
    assert env_file(ONEBOT_ENV)["ONEBOT_MODE"] == "reverse"
    block = nginx_locations()[defaults.onebot.ws_path]
    assert "proxy_pass http://servicebot_onebot;" in block
    assert "proxy_set_header Upgrade $http_upgrade;" in block


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_accepts_it(tmp_path: Path) -> None:
    """Where nginx is installed: its own check, with a throwaway certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=t",
         "-keyout", str(key), "-out", str(cert), "-days", "1"],
        check=True, capture_output=True,
    )  # fmt: skip
    site = NGINX.read_text("utf-8")
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\naccess_log off;\nclient_body_temp_path {tmp_path};\n{site}\n}}\n"
    )
    done = subprocess.run(["nginx", "-t", "-c", str(conf)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
