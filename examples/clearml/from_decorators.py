"""ClearML's "pipeline from decorators" with the Python client.

ClearML: `@PipelineDecorator.component(return_values=[...])` makes a function run as its own
task when the `@PipelineDecorator.pipeline(...)` function calls it; the pipeline's logic is
plain Python. Baton's engine runs commands, not pickled functions, so the closest honest form
is the `component` decorator below, written with the client (about fifteen lines): calling a
decorated function of functions.py submits `python3 functions.py NAME` as a task, with the
keyword arguments as its params, waits for it, and returns where its return value was written
(and its metrics). The pipeline function is then a plain controller: here it trains again with
a larger learning rate when the accuracy is too low.

  cd examples/clearml && npx baton server --port 0 &
  PYTHONPATH=../../python python3 from_decorators.py [LR] [THRESHOLD]
"""

import functools
import json
import os
import shlex
import sys

import functions
from baton import Baton

b = Baton.connect()


def component(return_values):
    """@PipelineDecorator.component(return_values=[return_values]) for a function of functions.py."""

    def decorate(fn):
        @functools.wraps(fn)
        def call(data=None, **kwargs):
            command = f"python3 functions.py {fn.__name__}" + ("" if data is None else f" {shlex.quote(data)}")
            task = b.submit(command, name=fn.__name__, params=kwargs, labels={"pipeline": "from-decorators"}).wait()
            print(f"from_decorators: {fn.__name__} {json.dumps(kwargs)}: {task.status} (task {task.id})", file=sys.stderr)
            if task.status != "succeeded":
                raise RuntimeError(f"{fn.__name__} {task.status}:\n{task.log()}")
            return os.path.join(task.info["outputDir"], f"{return_values}.json"), task.metrics()

        return call

    return decorate


step_one = component("data_frame")(functions.step_one)
step_two = component("processed_data")(functions.step_two)
step_three = component("model")(functions.step_three)


# @PipelineDecorator.pipeline(name="from-decorators"): the logic is code.
def executing_pipeline(lr=0.3, threshold=0.9):
    data_frame, _ = step_one(rows=240)
    processed_data, _ = step_two(data_frame, test_size=0.25)
    model, metrics = step_three(processed_data, lr=lr)
    tried = [{"lr": lr, "accuracy": metrics["accuracy"]}]
    if metrics["accuracy"] < threshold:
        print(f"from_decorators: accuracy {metrics['accuracy']} < {threshold}: training again with lr={lr * 4}", file=sys.stderr)
        model, metrics = step_three(processed_data, lr=lr * 4)
        tried.append({"lr": lr * 4, "accuracy": metrics["accuracy"]})
    return {"tried": tried, "accuracy": metrics["accuracy"], "model": model}


if __name__ == "__main__":
    lr = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3
    threshold = float(sys.argv[2]) if len(sys.argv) > 2 else 0.9
    print(json.dumps(executing_pipeline(lr, threshold), indent=2))
