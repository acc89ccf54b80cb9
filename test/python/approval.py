"""Approval gates from Python, run by test/integration/python-approval.test.ts.

Starts a pipeline with two gated nodes, sees them waiting (``wait`` does not take ``waiting``
for an end), approves one and rejects the other, and prints what it saw as JSON.
"""

import json
import time

from baton import Baton, ConflictError, WaitTimeout

b = Baton.connect()
out = {}

run = b.run("ship")
out["run_id"] = run.id


def task(name):
    deadline = time.monotonic() + 60
    while True:
        for t in run.tasks():
            if t.name == name and t.status == "waiting":
                return t
        if time.monotonic() > deadline:
            raise RuntimeError("%s never waited: %r" % (name, run.tasks()))
        time.sleep(0.2)


deploy = task("deploy")
out["deploy_status"] = deploy.status
out["deploy_waiting"] = deploy.waiting
out["deploy_approval_before"] = deploy.approval
try:
    deploy.wait(timeout=1.5)
    out["wait"] = "ended"
except WaitTimeout as err:
    out["wait"] = "timeout: %s" % err

approved = deploy.approve(comment="looks good")
out["approved_status_at_once"] = approved.info["status"]
deploy.wait(timeout=60)
out["deploy_status_after"] = deploy.status
out["deploy_approval_after"] = deploy.approval
out["deploy_log"] = deploy.log()
try:
    deploy.approve()
    out["approve_again"] = "accepted"
except ConflictError as err:
    out["approve_again"] = str(err)

other = task("other")
other.reject(comment="not now", by="python:ops")
run.wait(timeout=60)
out["run_status"] = run.status
out["other_status"] = other.status
out["other_approval"] = other.approval
out["other_error"] = other.info.get("error")
out["after_status"] = [t.status for t in run.tasks() if t.name == "after"]
print(json.dumps(out))
