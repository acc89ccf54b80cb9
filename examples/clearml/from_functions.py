"""ClearML's "pipeline from functions" with the Python client.

ClearML: `add_function_step(name, function, function_kwargs, function_return, ...)` ships a
Python function to a task. Baton runs commands, not Python functions, and its Python client
does not build pipelines: the closest honest form is the pipeline definition as a dict (the
baton.yaml format; from-functions.ts builds the same with `pipeline()`), whose steps run the
functions of functions.py as commands (`python3 functions.py step_one`), their return values
passed on as files. The client posts it whole and the engine runs it.

  cd examples/clearml && npx baton server --port 0 &
  PYTHONPATH=../../python python3 from_functions.py [LR]
"""

import json
import sys

from baton import Baton

FROM_FUNCTIONS = {
    "version": 1,
    "pipelines": {
        "from-functions": {
            "params": {"rows": {"type": "int", "default": 240}, "lr": {"type": "float", "default": 1}},
            "nodes": {
                # add_function_step(name="step_one", function=step_one,
                #                   function_kwargs={"rows": "${pipeline.rows}"}, function_return=["data_frame"])
                "step_one": {
                    "run": "python3 functions.py step_one",
                    "params": {"rows": {"type": "int"}},
                    "with": {"rows": "${{ params.rows }}"},
                    "outputs": ["data_frame.json"],
                },
                # function_kwargs={"data_frame": "${step_one.data_frame}", "test_size": 0.25}
                "step_two": {
                    "run": "python3 functions.py step_two ${{ inputs.data_frame }}",
                    "needs": ["step_one"],
                    "params": {"test_size": 0.25},
                    "inputs": {"data_frame": "${{ needs.step_one.outputs['data_frame.json'] }}"},
                    "outputs": ["processed_data.json"],
                },
                # function_kwargs={"data": "${step_two.processed_data}", "lr": "${pipeline.lr}"}
                "step_three": {
                    "run": "python3 functions.py step_three ${{ inputs.data }}",
                    "needs": ["step_two"],
                    "params": {"lr": {"type": "float"}},
                    "with": {"lr": "${{ params.lr }}"},
                    "inputs": {"data": "${{ needs.step_two.outputs['processed_data.json'] }}"},
                    "outputs": ["model.json"],
                },
            },
        }
    },
}


def main():
    lr = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    b = Baton.connect()
    run = b.run(FROM_FUNCTIONS, params={"lr": lr}).wait()
    tasks = run.tasks()
    last = next(t for t in tasks if t.name == "step_three")
    model = json.loads(last.read_output("model.json")) if run.status == "succeeded" else None
    print(
        json.dumps(
            {
                "run": run.id,
                "status": run.status,
                "tasks": [{"name": t.name, "status": t.status} for t in tasks],
                "model": model,
            },
            indent=2,
        )
    )
    sys.exit(0 if run.status == "succeeded" else 1)


if __name__ == "__main__":
    main()
