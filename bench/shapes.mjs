// DAG shapes of the benchmark, and how each is written for each tool.
//
// Every shape is a set of trivial bash tasks that write and read real files. The command of a
// task is the same for every tool; only where files live differs: make, ninja and snakemake
// tasks write plain files in their work folder, Baton tasks write to $BATON_OUTPUT_DIR and read
// their inputs from $BATON_INPUTS_DIR/NAME/ (bound with `needs.X.outputs[...]`).
//
// A shape object:
//   name        display name (depends on the size: chain200, or chain50 under --quick)
//   key         name given to --shapes (chain200, fan1000, layers, wide10k)
//   tasks       number of tasks
//   dirs        folders to create in the work folder before a run (not timed)
//   files       { Makefile, "build.ninja", Snakefile, "baton.yaml" }: text of each form
//   checks      [{ file, lines, ordered }]: output files whose content proves the run was right

const q = JSON.stringify; // a JSON string is a valid YAML double-quoted scalar

/** Lines of the Makefile header shared by every shape: same shell as Baton uses. */
const MAKE_HEAD = ["SHELL := /bin/bash", ".SHELLFLAGS := -eo pipefail -c", ".SUFFIXES:", ""];

/** One ninja rule used by every build statement: the command runs under bash like Baton's. */
const NINJA_HEAD = ["rule sh", "  command = /bin/bash -eo pipefail -c '$cmd'", "  description = $out", ""];

/** Escapes text for a ninja variable value (`$`, and nothing else matters on one line). */
const ninjaEsc = (s) => s.replaceAll("$", "$$");

/** Escapes a path for a ninja build line. */
const ninjaPath = (s) => s.replaceAll("$", "$$").replaceAll(" ", "$ ").replaceAll(":", "$:");

function makeRule(target, deps, cmd) {
  if (cmd.includes("$")) throw new Error(`make recipe must not use $: ${cmd}`);
  return `${target}:${deps.length ? " " + deps.join(" ") : ""}\n\t${cmd}\n`;
}

function ninjaBuild(target, deps, cmd) {
  if (cmd.includes("'")) throw new Error(`ninja command must not use single quotes: ${cmd}`);
  return `build ${ninjaPath(target)}: sh${deps.length ? " " + deps.map(ninjaPath).join(" ") : ""}\n  cmd = ${ninjaEsc(cmd)}\n`;
}

function batonHead(name) {
  return ["version: 1", "pools:", "  local: { slots: 2 }", "pipelines:", `  ${name}:`, "    nodes:"];
}

const range = (n) => Array.from({ length: n }, (_, i) => i);

// ---------------------------------------------------------------------------------------------
// chain: task i reads task i-1's file and appends its own number.

export function chain(n) {
  const name = `chain${n}`;
  const f = (i) => `t${i}.txt`;
  const cmd0 = (out) => `echo 0 > ${out}`;
  const cmdI = (i, prev, out) => `cat ${prev} > ${out}; echo ${i} >> ${out}`;

  const make = [...MAKE_HEAD, `all: ${f(n - 1)}`, ".PHONY: all", ""];
  const ninja = [...NINJA_HEAD];
  for (const i of range(n)) {
    const cmd = i === 0 ? cmd0(f(0)) : cmdI(i, f(i - 1), f(i));
    make.push(makeRule(f(i), i === 0 ? [] : [f(i - 1)], cmd));
    ninja.push(ninjaBuild(f(i), i === 0 ? [] : [f(i - 1)], cmd));
  }

  const snake = [
    "rule all:",
    `    input: ${q(f(n - 1))}`,
    "",
    "rule first:",
    `    output: ${q(f(0))}`,
    `    shell: ${q(cmd0("{output}"))}`,
    "",
    "rule step:",
    '    input: lambda w: f"t{int(w.i) - 1}.txt"',
    '    output: "t{i}.txt"',
    '    wildcard_constraints: i="[1-9][0-9]*"',
    `    shell: ${q(cmdI("{wildcards.i}", "{input}", "{output}"))}`,
    "",
  ];

  const out = (i) => `"$BATON_OUTPUT_DIR/${f(i)}"`;
  const baton = batonHead(name);
  for (const i of range(n)) {
    if (i === 0) {
      baton.push(`      t0: { run: ${q(cmd0(out(0)))} }`);
    } else {
      baton.push(
        `      t${i}:`,
        `        needs: [t${i - 1}]`,
        `        inputs: { prev: ${q(`\${{ needs.t${i - 1}.outputs['*'] }}`)} }`,
        `        run: ${q(cmdI(i, "${{ inputs.prev }}", out(i)))}`,
      );
    }
  }

  return {
    name,
    key: "chain200",
    tasks: n,
    dirs: [],
    files: {
      Makefile: make.join("\n"),
      "build.ninja": ninja.join("\n"),
      Snakefile: snake.join("\n"),
      "baton.yaml": baton.join("\n") + "\n",
    },
    checks: [{ file: f(n - 1), lines: range(n).map(String), ordered: true }],
  };
}

// ---------------------------------------------------------------------------------------------
// fan: n independent tasks each writing one file, then one aggregate that reads all of them.
// The aggregate lists the files with find (never all paths on one command line: ARG_MAX).

export function fan(n, key) {
  const display = key === "fan1000" ? `fan${n}` : n % 1000 === 0 ? `wide${n / 1000}k` : `wide${n}`;
  const f = (i) => `parts/w${i}.txt`;
  const cmdW = (i, out) => `echo ${i} > ${out}`;
  const cmdAgg = (dir, out) => `find -L ${dir} -type f -name "w*.txt" -print0 | xargs -0 cat > ${out}`;

  const make = [...MAKE_HEAD, "all: all.txt", ".PHONY: all", ""];
  const ninja = [...NINJA_HEAD];
  for (const i of range(n)) {
    make.push(makeRule(f(i), [], cmdW(i, f(i))));
    ninja.push(ninjaBuild(f(i), [], cmdW(i, f(i))));
  }
  const all = range(n).map(f);
  make.push(makeRule("all.txt", all, cmdAgg("parts", "all.txt")));
  ninja.push(ninjaBuild("all.txt", all, cmdAgg("parts", "all.txt")));

  const snake = [
    `N = ${n}`,
    "",
    "rule all:",
    '    input: "all.txt"',
    "",
    "rule aggregate:",
    '    input: expand("parts/w{i}.txt", i=range(N))',
    '    output: "all.txt"',
    `    shell: ${q(cmdAgg("parts", "{output}"))}`,
    "",
    "rule work:",
    '    output: "parts/w{i}.txt"',
    '    wildcard_constraints: i="[0-9]+"',
    `    shell: ${q(cmdW("{wildcards.i}", "{output}"))}`,
    "",
  ];

  const baton = [
    ...batonHead(display),
    "      work:",
    `        foreach: [${range(n).join(", ")}]`,
    `        run: ${q(cmdW("${{ item }}", '"$BATON_OUTPUT_DIR/w${{ item }}.txt"'))}`,
    "      aggregate:",
    "        needs: [work]",
    `        inputs: { parts: ${q("${{ needs.work.outputs['*.txt'] }}")} }`,
    `        run: ${q(cmdAgg('"$BATON_INPUTS_DIR/parts"', '"$BATON_OUTPUT_DIR/all.txt"'))}`,
    "",
  ];

  return {
    name: display,
    key,
    tasks: n + 1,
    dirs: ["parts"],
    files: {
      Makefile: make.join("\n"),
      "build.ninja": ninja.join("\n"),
      Snakefile: snake.join("\n"),
      "baton.yaml": baton.join("\n"),
    },
    checks: [{ file: "all.txt", lines: range(n).map(String), ordered: false }],
  };
}

// ---------------------------------------------------------------------------------------------
// layers: L layers of W tasks; task j of layer k>0 needs tasks j, j+1, j+2 (mod W) of layer k-1
// and writes the sorted union of their lines plus its own "k_j" line. `sort -u` keeps the files
// small (at most L*W lines) instead of growing 3^k.

export function layers(L, W) {
  const name = `layers${L}x${W}`;
  const id = (k, j) => `l${k}_${j}`;
  const f = (k, j) => `${id(k, j)}.txt`;
  const parents = (k, j) => [0, 1, 2].map((d) => [k - 1, (j + d) % W]);
  const cmd0 = (j, out) => `echo 0_${j} > ${out}`;
  const cmdK = (k, j, ins, out) => `{ cat ${ins.join(" ")}; echo ${k}_${j}; } | sort -u > ${out}`;

  const make = [
    ...MAKE_HEAD,
    `all: ${range(W)
      .map((j) => f(L - 1, j))
      .join(" ")}`,
    ".PHONY: all",
    "",
  ];
  const ninja = [...NINJA_HEAD];
  for (const k of range(L)) {
    for (const j of range(W)) {
      const deps = k === 0 ? [] : parents(k, j).map(([a, b]) => f(a, b));
      const cmd = k === 0 ? cmd0(j, f(0, j)) : cmdK(k, j, deps, f(k, j));
      make.push(makeRule(f(k, j), deps, cmd));
      ninja.push(ninjaBuild(f(k, j), deps, cmd));
    }
  }

  const snake = [
    `L = ${L}`,
    `W = ${W}`,
    "",
    "rule all:",
    '    input: [f"l{L - 1}_{j}.txt" for j in range(W)]',
    "",
    "rule first:",
    '    output: "l0_{j}.txt"',
    '    wildcard_constraints: j="[0-9]+"',
    `    shell: ${q(cmd0("{wildcards.j}", "{output}"))}`,
    "",
    "rule layer:",
    '    input: lambda w: [f"l{int(w.k) - 1}_{(int(w.j) + d) % W}.txt" for d in range(3)]',
    '    output: "l{k}_{j}.txt"',
    '    wildcard_constraints: k="[1-9][0-9]*", j="[0-9]+"',
    // Snakemake formats shell strings: literal braces are doubled.
    `    shell: ${q(cmdK("{wildcards.k}", "{wildcards.j}", ["{input}"], "{output}").replace("{ cat", "{{ cat").replace("; }", "; }}"))}`,
    "",
  ];

  const baton = batonHead(name);
  for (const k of range(L)) {
    for (const j of range(W)) {
      const out = `"$BATON_OUTPUT_DIR/${f(k, j)}"`;
      if (k === 0) {
        baton.push(`      ${id(0, j)}: { run: ${q(cmd0(j, out))} }`);
        continue;
      }
      const ps = parents(k, j).map(([a, b]) => id(a, b));
      const names = ["a", "b", "c"];
      baton.push(
        `      ${id(k, j)}:`,
        `        needs: [${ps.join(", ")}]`,
        `        inputs: { ${ps.map((p, i) => `${names[i]}: ${q(`\${{ needs.${p}.outputs['*'] }}`)}`).join(", ")} }`,
        `        run: ${q(
          cmdK(
            k,
            j,
            names.map((x) => `\${{ inputs.${x} }}`),
            out,
          ),
        )}`,
      );
    }
  }

  // Expected content of a last-layer file: every "k_j" it descends from, sorted (LC_ALL=C).
  const expected = (k, j) => {
    const seen = new Set();
    const visit = (a, b) => {
      const key = `${a}_${b}`;
      if (seen.has(key)) return;
      seen.add(key);
      if (a > 0) for (const [c, d] of parents(a, b)) visit(c, d);
    };
    visit(k, j);
    return [...seen];
  };

  return {
    name,
    key: "layers",
    tasks: L * W,
    dirs: [],
    files: {
      Makefile: make.join("\n"),
      "build.ninja": ninja.join("\n"),
      Snakefile: snake.join("\n"),
      "baton.yaml": baton.join("\n") + "\n",
    },
    checks: range(W).map((j) => ({ file: f(L - 1, j), lines: expected(L - 1, j), ordered: false })),
  };
}

// ---------------------------------------------------------------------------------------------

export const SHAPE_KEYS = ["chain200", "fan1000", "layers", "wide10k"];

/** Builds the shape named by `key`, at full size or scaled down for smoke runs. */
export function makeShape(key, quick) {
  switch (key) {
    case "chain200":
      return chain(quick ? 50 : 200);
    case "fan1000":
      return fan(quick ? 200 : 1000, "fan1000");
    case "layers":
      return quick ? layers(5, 20) : layers(20, 50);
    case "wide10k":
      return fan(quick ? 1000 : 10000, "wide10k");
    default:
      throw new Error(`unknown shape ${key} (known: ${SHAPE_KEYS.join(", ")})`);
  }
}
