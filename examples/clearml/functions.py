"""The three functions of ClearML's "pipeline from functions" and "from decorators" examples.

In ClearML, `add_function_step(function=step_one, ...)` (or `@PipelineDecorator.component`)
ships a Python function to a task, and its return values come back as artifacts. In Baton a
step is a command, so each function runs as its own task through this small command line:

  python3 functions.py step_one
  python3 functions.py step_two DATA_FRAME_JSON
  python3 functions.py step_three PROCESSED_DATA_JSON

Keyword arguments come from the task's params (BATON_PARAM_<NAME>); a function's return value
is written as <return name>.json to $BATON_OUTPUT_DIR, which is what the next step is given
(ClearML's `function_return=["data_frame"]` and `${step_one.data_frame}`). The work itself is
done by the step scripts (stage_data.py, process.py, train.py). Standard library only.
"""

import json
import os
import sys

from process import split
from stage_data import make_dataset
from train import accuracy, fit, report


def step_one(rows=240, seed=7):
    """Stages the data set: returns the points (ClearML's `data_frame`)."""
    return make_dataset(rows, seed)


def step_two(data_frame, test_size=0.25, random_state=42):
    """Splits the points: returns {"train", "test"} (ClearML's `processed_data`)."""
    train, test = split(data_frame, test_size, random_state)
    return {"train": train, "test": test}


def step_three(data, lr=0.01, epochs=20):
    """Trains on data["train"], reports the loss curve and the test accuracy: returns the model."""
    model = fit(data["train"], lr, epochs, lambda epoch, loss: report(step=epoch, loss=round(loss, 6)))
    acc = round(accuracy(model, data["test"]), 4)
    report(accuracy=acc)
    print(f"lr={lr} epochs={epochs}: test accuracy {acc}")
    return {**{k: round(v, 6) for k, v in model.items()}, "lr": lr, "epochs": epochs, "accuracy": acc}


# name -> (function, its data argument read from a file, the name its return value is saved as,
#          its keyword params and their types)
STEPS = {
    "step_one": (step_one, None, "data_frame", {"rows": int, "seed": int}),
    "step_two": (step_two, "data_frame", "processed_data", {"test_size": float, "random_state": int}),
    "step_three": (step_three, "data", "model", {"lr": float, "epochs": int}),
}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in STEPS:
        sys.exit(f"usage: python3 functions.py {{{'|'.join(STEPS)}}} [INPUT_JSON]")
    function, data_arg, returns, kwargs_types = STEPS[sys.argv[1]]
    kwargs = {}
    for name, kind in kwargs_types.items():
        value = os.environ.get(f"BATON_PARAM_{name.upper()}")
        if value is not None:
            kwargs[name] = kind(value)
    if data_arg is not None:
        if len(sys.argv) != 3:
            sys.exit(f"python3 functions.py {sys.argv[1]}: give the {data_arg} file")
        with open(sys.argv[2]) as f:
            kwargs[data_arg] = json.load(f)
    result = function(**kwargs)
    out = os.environ.get("BATON_OUTPUT_DIR", "output")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{returns}.json"), "w") as f:
        json.dump(result, f)
    print(f"{sys.argv[1]}: returned {returns}.json")


if __name__ == "__main__":
    main()
