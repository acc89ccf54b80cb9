// Pick the best learning rate from evaluate's scores.json. No dependencies.
//
//   node best.js SCORES.json [OUT_DIR]
//
// Best = highest test accuracy, ties broken by the lower test log loss. Writes
// OUT_DIR/best.json (OUT_DIR defaults to $BATON_OUTPUT_DIR) and appends
// {"best_lr": ..., "best_accuracy": ...} to $BATON_METRICS.
//
// Written with dynamic import() only, so it runs both as an ES module (this repository's
// package.json says "type": "module") and as CommonJS (if you copy it elsewhere).
(async () => {
  const fs = await import("node:fs");
  const path = await import("node:path");

  const [scoresPath, outArg] = process.argv.slice(2);
  if (!scoresPath) throw new Error("usage: node best.js SCORES.json [OUT_DIR]");
  const outDir = outArg || process.env.BATON_OUTPUT_DIR || "output";

  const { models } = JSON.parse(fs.readFileSync(scoresPath, "utf8"));
  if (!Array.isArray(models) || models.length === 0) throw new Error(`${scoresPath}: no models scored`);
  const best = [...models].sort((a, b) => b.accuracy - a.accuracy || a.log_loss - b.log_loss)[0];

  fs.mkdirSync(outDir, { recursive: true });
  const result = { lr: best.lr, accuracy: best.accuracy, log_loss: best.log_loss, trained_by: best.trained_by, candidates: models.length };
  fs.writeFileSync(path.join(outDir, "best.json"), `${JSON.stringify(result, null, 1)}\n`);

  const metrics = { best_lr: best.lr, best_accuracy: best.accuracy };
  if (process.env.BATON_METRICS) fs.appendFileSync(process.env.BATON_METRICS, `${JSON.stringify(metrics)}\n`);
  console.log(`best learning rate: ${best.lr} (test accuracy ${best.accuracy}, trained by ${best.trained_by})`);
})().catch((err) => {
  console.error(`best.js: ${err.message}`);
  process.exit(1);
});
