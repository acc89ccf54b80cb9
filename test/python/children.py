"""Runs inside a Baton task: what it submits and clones becomes the task's children."""

import json
import os

from baton import Baton

b = Baton.connect()  # BATON_URL, BATON_TOKEN and BATON_TASK_ID, set by Baton
one = b.submit("echo child one", name="child-one", params={"n": 1})
two = b.clone(one, params={"n": 2}, name="child-two")
print(
    json.dumps(
        {
            "me": os.environ["BATON_TASK_ID"],
            "parents": [one.info["parent"], two.info["parent"]],
            "ids": [one.id, two.id],
        }
    )
)
