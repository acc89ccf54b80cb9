"""Train a model: ClearML's "step 3, train model" (a logistic regression, by gradient descent).

  python3 train.py TRAIN_CSV TEST_CSV

Params (BATON_PARAM_<NAME>; read from the environment, so that a clone with other params
trains with them):
  LR      learning rate (default 0.01)
  EPOCHS  passes over the training set (default 20)

Reports the training loss of every epoch ({"step": N, "loss": ...}, a curve) and then the test
accuracy ({"accuracy": ...}) to $BATON_METRICS, and writes model.json to $BATON_OUTPUT_DIR.
Pure Python standard library, deterministic.
"""

import json
import math
import os
import sys

from stage_data import read_csv


def predict(model, x1, x2):
    z = model["w1"] * x1 + model["w2"] * x2 + model["b"]
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def log_loss(model, points):
    eps = 1e-9
    total = 0.0
    for x1, x2, y in points:
        p = predict(model, x1, x2)
        total -= y * math.log(p + eps) + (1 - y) * math.log(1 - p + eps)
    return total / len(points)


def accuracy(model, points):
    right = sum(1 for x1, x2, y in points if (predict(model, x1, x2) >= 0.5) == (y == 1))
    return right / len(points)


def fit(points, lr=0.01, epochs=20, on_epoch=None):
    """Full-batch gradient descent from zero weights; calls on_epoch(epoch, loss) after each pass."""
    model = {"w1": 0.0, "w2": 0.0, "b": 0.0}
    n = len(points)
    for epoch in range(1, epochs + 1):
        g1 = g2 = gb = 0.0
        for x1, x2, y in points:
            err = predict(model, x1, x2) - y
            g1 += err * x1
            g2 += err * x2
            gb += err
        model = {"w1": model["w1"] - lr * g1 / n, "w2": model["w2"] - lr * g2 / n, "b": model["b"] - lr * gb / n}
        if on_epoch:
            on_epoch(epoch, log_loss(model, points))
    return model


def report(**metrics):
    """Appends one JSON object to $BATON_METRICS (ClearML: Logger.report_scalar)."""
    path = os.environ.get("BATON_METRICS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(metrics) + "\n")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: python3 train.py TRAIN_CSV TEST_CSV")
    lr = float(os.environ.get("BATON_PARAM_LR", "0.01"))
    epochs = int(os.environ.get("BATON_PARAM_EPOCHS", "20"))
    train, test = read_csv(sys.argv[1]), read_csv(sys.argv[2])
    model = fit(train, lr, epochs, lambda epoch, loss: report(step=epoch, loss=round(loss, 6)))
    acc = round(accuracy(model, test), 4)
    report(accuracy=acc)
    print(f"lr={lr} epochs={epochs}: test accuracy {acc}")
    out = os.environ.get("BATON_OUTPUT_DIR", "output")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump({**{k: round(v, 6) for k, v in model.items()}, "lr": lr, "epochs": epochs, "accuracy": acc}, f)


if __name__ == "__main__":
    main()
