"""A ClearML-style controller, run by test/integration/python-client.test.ts.

Finds a template task by name, clones it with other params, waits, reads its metrics, decides
and submits a follow-up; starts runs by name and by definition. Prints what it saw as JSON.
"""

import json

from baton import Baton

b = Baton.connect()  # no BATON_URL: the server recorded in .baton/server.json of this folder
out = {}

# A first run of the pipeline gives the template (ClearML: a task of an earlier experiment).
run = b.run("train", params={"lr": 0.1})
out["run_id"] = run.id
run.wait(timeout=120)
out["run_status"] = run.status
out["run_tasks"] = sorted(t.name for t in run.tasks())

template = b.get_task(name="fit", pipeline="train")
out["template_id"] = template.id
out["template_run"] = template.run_id
out["template_params"] = template.params
out["template_outputs"] = [o["path"] for o in template.outputs()]
out["template_model"] = template.read_output("model.txt").decode()

# Clone with an override, in a pool, labelled (ClearML: clone + set_parameters + enqueue).
clone = b.clone(template, params={"lr": 0.9}, name="fit-lr-0.9", pool="gpu", labels={"sweep": "s1"})
out["clone_status_at_start"] = clone.info["status"]
clone.wait(timeout=120)
out["clone_id"] = clone.id
out["clone_status"] = clone.status
out["clone_labels"] = clone.labels
out["clone_metrics"] = clone.metrics()
out["clone_loss"] = [[p["step"], p["value"]] for p in clone.metric_series("loss")]
out["clone_no_series"] = clone.metric_series("no-such-metric")
out["clone_log"] = clone.log()

# Decide on the metrics, then submit a follow-up that waits for the clone's success.
if clone.metrics()["accuracy"] > 0.5:
    follow = b.submit(
        'echo "deploying $BATON_PARAM_MODEL"',
        name="deploy",
        pool="gpu",
        params={"model": clone.id},
        env={"STAGE": "prod"},
        labels={"sweep": "s1", "kind": "deploy"},
        after_success=[clone],
        retries=1,
        timeout=60,
    )
    follow.wait(timeout=120)
    out["follow_status"] = follow.status
    out["follow_log"] = follow.log()

out["by_label"] = [t.name for t in b.tasks(label={"sweep": "s1"})]
out["latest_deploy"] = b.get_task(label="kind=deploy").name
out["failed_in_sweep"] = [t.name for t in b.tasks(label="sweep=s1", status="failed")]

# A pipeline given as a whole definition.
inline = b.run(
    {"version": 1, "pipelines": {"inline": {"nodes": {"hi": {"run": "echo hi from inline"}}}}}
).wait(timeout=120)
out["inline_status"] = inline.status
out["inline_log"] = inline.tasks()[0].log()

print(json.dumps(out))
