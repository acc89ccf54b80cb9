"""The custom controller of ClearML's pipelines documentation, with the Python client: get the
template task by project and name, clone it, set its parameters, enqueue it, wait, read its last
metrics, and decide what to run next.

  ClearML                                              Baton
    Task.get_task(project_name=, task_name=)             b.get_task(pipeline=, name=, status=)
    Task.clone(source_task=) + set_parameters({...})     b.clone(template, params={...}, pool=...)
      + Task.enqueue(task, queue_name=)                    (a clone is submitted at once)
    task.wait_for_status()                               task.wait()
    task.get_last_scalar_metrics()                       task.metrics()

The template is the `stage_train` task of the latest run of the `from-tasks` pipeline (run
from_tasks.py first). The controller clones it over a grid of learning rates, stops as soon as
one reaches the threshold, and otherwise trains the best one four times longer.

  cd examples/clearml && npx baton server --port 0 &
  PYTHONPATH=../../python python3 controller.py [--grid 0.03,0.3,1,2] [--threshold 0.9] [--pool NAME]
"""

import argparse
import json
import sys

from baton import Baton


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--grid", default="0.03,0.3,1,2")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--pool", default=None, help="ClearML's queue_name")
    args = parser.parse_args()
    grid = [float(x) for x in args.grid.split(",")]

    b = Baton.connect()
    # Task.get_task(project_name="examples", task_name="Pipeline step 3 train model")
    template = b.get_task(pipeline="from-tasks", name="stage_train", status="succeeded")
    print(f"controller: template {template.id} (accuracy {template.metrics().get('accuracy')})", file=sys.stderr)

    trials = []

    def train(lr, epochs):
        # Task.clone + set_parameters({"General/lr": lr}) + Task.enqueue(queue_name=...)
        task = b.clone(template, params={"lr": lr, "epochs": epochs}, name=f"stage_train lr={lr}", pool=args.pool)
        task.wait()  # wait_for_status()
        accuracy = task.metrics().get("accuracy") if task.status == "succeeded" else None  # get_last_scalar_metrics()
        print(f"controller: lr={lr} epochs={epochs}: {task.status}, accuracy {accuracy}", file=sys.stderr)
        trials.append({"lr": lr, "epochs": epochs, "accuracy": accuracy, "task": task.id})
        return accuracy or 0

    # Decide on the metric: stop the sweep as soon as a model is good enough.
    decision = "no model reached the threshold"
    for lr in grid:
        if train(lr, 20) >= args.threshold:
            decision = f"stopped early at lr={lr:g}"
            break

    def best():
        return sorted(trials, key=lambda t: -(t["accuracy"] or 0))[0]

    if (best()["accuracy"] or 0) < args.threshold:
        lr, epochs = best()["lr"], best()["epochs"]
        decision = f"trained lr={lr:g} longer"
        print(f"controller: best accuracy {best()['accuracy']} < {args.threshold}: training lr={lr:g} for {epochs * 4} epochs", file=sys.stderr)
        train(lr, epochs * 4)
    print(json.dumps({"template": template.id, "decision": decision, "best": best(), "trials": trials}, indent=2))


if __name__ == "__main__":
    main()
