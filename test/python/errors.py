"""Errors carry the server's code; run by test/integration/python-client.test.ts."""

import json
import os
import sys
import tempfile

from baton import (
    AuthenticationError,
    Baton,
    BatonConnectionError,
    BatonError,
    InvalidRequestError,
    NotFoundError,
    WaitTimeout,
)

b = Baton.connect()
out = {}


def caught(key, fn, kind):
    try:
        fn()
    except kind as err:
        assert isinstance(err, BatonError)
        out[key] = {"code": err.code, "status": err.status, "message": err.message, "problems": err.problems}
        return
    out[key] = "no error"


caught("no_match", lambda: b.get_task(name="no such task"), NotFoundError)
caught("unknown_id", lambda: b.task("task_01ZZZZZZZZZZZZZZZZZZZZZZZZ"), NotFoundError)
caught("unknown_pipeline", lambda: b.run("no-such-pipeline"), NotFoundError)
caught("bad_param", lambda: b.run("train", params={"lr": "fast"}), InvalidRequestError)
template = b.get_task(name="fit", pipeline="train")
caught("typo_param", lambda: b.clone(template, params={"lr_typo": 0.5}), InvalidRequestError)
caught("bad_label_filter", lambda: b.tasks(label="=x"), InvalidRequestError)
caught("bad_token", lambda: Baton(b.url, "wrong-token").tasks(limit=1), AuthenticationError)
caught("unreachable", lambda: Baton("http://127.0.0.1:1").tasks(), BatonConnectionError)

slow = b.submit("sleep 60", name="slow")
caught("wait_timeout", lambda: slow.wait(timeout=0.5), WaitTimeout)
out["timeout_is_builtin"] = issubclass(WaitTimeout, TimeoutError)
out["slow_after_cancel"] = slow.cancel().wait(timeout=60).status
caught("clone_nothing", lambda: b.clone("no-such-task"), NotFoundError)
# A task that has ended cannot be cancelled again: the client leaves it as it is.
out["cancel_again"] = slow.cancel().status

# No BATON_URL and no server recorded in the folder or above it.
for var in ("BATON_URL", "BATON_TOKEN"):
    os.environ.pop(var, None)
with tempfile.TemporaryDirectory() as empty:
    caught("no_server", lambda: Baton.connect(folder=empty), BatonConnectionError)

print(json.dumps(out))
sys.exit(0)
