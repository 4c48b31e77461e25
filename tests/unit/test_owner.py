"""Telling a dead lease holder from a live one."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.core.owner import is_dead, new_owner


def test_a_holder_in_this_process_is_alive() -> None:
    me, other = new_owner(), new_owner()
    assert me != other
    assert not is_dead(other, me), "two holders in one process: both alive"
    assert not is_dead(me, me)


def test_an_earlier_run_with_our_pid_is_dead() -> None:
    me = new_owner()
    host, pid, _run, nonce = me.split(":")
    assert is_dead(f"{host}:{pid}:00000000:{nonce}", me)


def test_an_exited_process_is_dead_and_a_running_one_alive() -> None:
    me = new_owner()
    host = me.split(":")[0]
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert is_dead(f"{host}:{child.pid}:abcd:ef", me)
    assert not is_dead(f"{host}:{os.getppid()}:abcd:ef", me), "the parent runs"


def test_another_host_or_a_foreign_format_is_never_called_dead() -> None:
    me = new_owner()
    assert not is_dead("elsewhere:1:abcd:ef", me)
    assert not is_dead("gone:1:x", me)
    assert not is_dead("garbage", me)
