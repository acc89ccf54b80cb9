"""ClearML's "pipeline from tasks" with the Python client.

ClearML builds the pipeline in Python (PipelineController + add_step over existing tasks).
Baton's Python client does not build pipelines: the pipeline is the `from-tasks` entry of
baton.yaml (its `steps:` are the base tasks, its nodes the add_step calls, `with:` the
parameter overrides), and Python starts it by name, waits and reads the results. The pre/post
execute callbacks have no Python counterpart (see from-tasks.ts for them in TypeScript).

  cd examples/clearml && npx baton server --port 0 &
  PYTHONPATH=../../python python3 from_tasks.py [LR]

Prints the run's result as JSON.
"""

import json
import sys

from baton import Baton


def main():
    lr = float(sys.argv[1]) if len(sys.argv) > 1 else 0.1
    b = Baton.connect()  # BATON_URL/BATON_TOKEN, or .baton/server.json of this folder
    run = b.run("from-tasks", params={"lr": lr}).wait()  # pipe.start(); wait
    tasks = run.tasks()
    train = next(t for t in tasks if t.name == "stage_train")
    print(
        json.dumps(
            {
                "run": run.id,
                "status": run.status,
                "tasks": [{"name": t.name, "status": t.status} for t in tasks],
                "accuracy": train.metrics().get("accuracy"),
                "loss_curve": [p["value"] for p in train.metric_series("loss")],
            },
            indent=2,
        )
    )
    sys.exit(0 if run.status == "succeeded" else 1)


if __name__ == "__main__":
    main()
