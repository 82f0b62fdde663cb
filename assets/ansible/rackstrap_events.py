# rackstrap's Ansible callback: one JSON line per event (a play or task starting, each host's
# result, a retry, each host's recap) written to the Unix socket named by
# RACKSTRAP_ANSIBLE_EVENTS, next to the usual stdout callback, which keeps printing what an
# operator reads. rackstrap takes per-task results from these lines, never from the text.
#
# A notification callback that needs no enabling: it loads from ANSIBLE_CALLBACK_PLUGINS
# whatever `callbacks_enabled` the tree's ansible.cfg lists ("Callback plugins", Ansible
# docs: https://docs.ansible.com/ansible/latest/plugins/callback.html). Written for
# ansible-core 2.15 to 2.18, the range of the Kubespray releases rackstrap knows.
from __future__ import annotations

DOCUMENTATION = """
    name: rackstrap_events
    type: notification
    short_description: rackstrap's per-event JSON lines
    description:
      - Sends task starts, per-host results, retries and the recap as JSON lines to the Unix
        socket named by the RACKSTRAP_ANSIBLE_EVENTS environment variable.
"""

import json
import os
import socket

from ansible.plugins.callback import CallbackBase

# The fields of a failed result that say what went wrong.
FAILURE_FIELDS = ("msg", "stderr", "module_stderr", "rc", "assertion")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "rackstrap_events"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sock = None
        path = os.environ.get("RACKSTRAP_ANSIBLE_EVENTS")
        if not path:
            return
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            self._sock = sock
        except OSError as e:
            self._display.warning("rackstrap_events: cannot reach %s: %s" % (path, e))

    def _send(self, event, **fields):
        if self._sock is None:
            return
        fields["event"] = event
        line = json.dumps(fields, default=str, ensure_ascii=False) + "\n"
        try:
            self._sock.sendall(line.encode("utf-8", "replace"))
        except OSError:
            self._sock = None

    def _result(self, status, result, ignored=False, item=False):
        fields = {
            "status": status,
            "host": result._host.get_name(),
            "task": result._task.get_name().strip(),
        }
        if item:
            fields["item"] = str(self._get_item_label(result._result))
        if ignored:
            fields["ignored"] = True
        if status in ("failed", "unreachable"):
            for k in FAILURE_FIELDS:
                if k in result._result:
                    fields[k] = result._result[k]
        self._send("result", **fields)

    def v2_playbook_on_play_start(self, play):
        self._send("play", name=play.get_name().strip())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._send("task", name=task.get_name().strip())

    def v2_playbook_on_handler_task_start(self, task):
        self._send("task", name=task.get_name().strip(), handler=True)

    def v2_runner_on_ok(self, result):
        changed = bool(result._result.get("changed", False))
        self._result("changed" if changed else "ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result("failed", result, ignored=ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._result("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._result("unreachable", result)

    def v2_runner_item_on_ok(self, result):
        changed = bool(result._result.get("changed", False))
        self._result("changed" if changed else "ok", result, item=True)

    def v2_runner_item_on_failed(self, result):
        self._result("failed", result, item=True)

    def v2_runner_item_on_skipped(self, result):
        self._result("skipped", result, item=True)

    def v2_runner_retry(self, result):
        self._send(
            "retry",
            host=result._host.get_name(),
            task=result._task.get_name().strip(),
            attempt=result._result.get("attempts"),
            retries=result._result.get("retries"),
        )

    def v2_playbook_on_stats(self, stats):
        for host in sorted(stats.processed.keys()):
            s = stats.summarize(host)
            self._send(
                "recap",
                host=host,
                ok=s.get("ok", 0),
                changed=s.get("changed", 0),
                unreachable=s.get("unreachable", 0),
                failed=s.get("failures", 0),
                skipped=s.get("skipped", 0),
                rescued=s.get("rescued", 0),
                ignored=s.get("ignored", 0),
            )
