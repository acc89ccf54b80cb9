#!/usr/bin/env node
/**
 * Writes the API reference of docs/sdk.md from the TSDoc of the built package's declarations
 * (`dist/index.d.ts` and what it exports), with the TypeScript compiler the project already
 * uses: every export, its signature as published, its documentation, and the members of its
 * classes and interfaces. The reference sits between two markers in docs/sdk.md; the tutorial
 * around it is written by hand.
 *
 *   npm run docs:sdk                      # build, then rewrite the reference
 *   node scripts/sdk-docs.mjs --check     # exit 1 if docs/sdk.md is not up to date
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ENTRY = path.join(ROOT, "dist", "index.d.ts");
const DOC = path.join(ROOT, "docs", "sdk.md");
const BEGIN = "<!-- BEGIN API REFERENCE: generated from the TSDoc by `npm run docs:sdk`; do not edit -->";
const END = "<!-- END API REFERENCE -->";

/** Sections of the reference, in order; exports not named here land in "Other types". */
const SECTIONS = [
  ["Client", ["Baton", "ConnectOptions", "RunOptions", "TaskFilter"]],
  ["Tasks and runs", ["TaskHandle", "RunHandle", "RunResult", "WaitOptions", "SubmitOptions", "CloneOptions"]],
  [
    "Pipeline builder",
    [
      "pipeline",
      "Pipeline",
      "StepOptions",
      "TaskSettings",
      "StepTemplate",
      "PoolOptions",
      "ParamOption",
      "ParamDeclaration",
      "ParamType",
      "NeedCondition",
      "RetryOption",
      "CacheOption",
      "Duration",
      "InputDeclaration",
      "PipelineDefinition",
      "PipelineBody",
      "NodeDefinition",
      "ValidatedPipeline",
      "CallSite",
    ],
  ],
  [
    "Controllers and hooks",
    [
      "Controller",
      "ControllerOptions",
      "ControllerRunOptions",
      "BeforeHook",
      "AfterHook",
      "StepContext",
      "BeforeContext",
      "AfterContext",
      "StepResult",
      "StepTaskResult",
      "StepOutcome",
    ],
  ],
  [
    "Data",
    [
      "TaskSummary",
      "TaskInfo",
      "CacheExplanation",
      "CacheChange",
      "CacheKeyParts",
      "AttemptInfo",
      "TaskOutput",
      "RunInfo",
      "TaskStatus",
      "RunStatus",
      "Metrics",
      "isTerminalStatus",
    ],
  ],
  ["Errors", ["BatonError", "ErrorCode", "Problem", "formatProblem"]],
];

function main() {
  if (!fs.existsSync(ENTRY)) fail(`${path.relative(ROOT, ENTRY)} is missing: run \`npm run build\` first`);
  const program = ts.createProgram([ENTRY], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ["node"],
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(ENTRY);
  const moduleSymbol = source && checker.getSymbolAtLocation(source);
  if (!moduleSymbol) fail(`cannot read ${ENTRY}`);
  const exports = new Map();
  for (const sym of checker.getExportsOfModule(moduleSymbol)) {
    const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    exports.set(sym.getName(), target);
  }
  const placed = new Set(SECTIONS.flatMap(([, names]) => names));
  const sections = [...SECTIONS];
  const others = [...exports.keys()].filter((n) => !placed.has(n)).sort();
  if (others.length > 0) sections.push(["Other types", others]);
  // Headings in document order get GitHub's anchors: `pipeline`, then `pipeline-1` for `Pipeline`.
  const anchors = new Map();
  const used = new Map();
  const claim = (heading) => {
    const base = anchor(heading);
    const n = used.get(base) ?? 0;
    used.set(base, n + 1);
    return n === 0 ? base : `${base}-${n}`;
  };
  claim("API reference");
  for (const [title, names] of sections) {
    const present = names.filter((n) => exports.has(n));
    if (present.length === 0) continue;
    anchors.set(`section:${title}`, claim(title));
    for (const name of present) anchors.set(name, claim(name));
  }
  const ctx = { checker, names: new Set(exports.keys()), anchors };

  const out = [BEGIN, "", "## API reference", ""];
  out.push(
    "Everything the `baton` package exports, with its signature as published in `dist/index.d.ts`.",
    "",
  );
  for (const [title, names] of sections) {
    const present = names.filter((n) => exports.has(n));
    if (present.length === 0) continue;
    const links = present.map((n) => `[\`${n}\`](#${anchors.get(n)})`).join(", ");
    out.push(`- [${title}](#${anchors.get(`section:${title}`)}): ${links}`);
  }
  out.push("");
  for (const [title, names] of sections) {
    const present = names.filter((n) => exports.has(n));
    if (present.length === 0) continue;
    out.push(`### ${title}`, "");
    for (const name of present) out.push(...renderSymbol(name, exports.get(name), ctx));
  }
  out.push(END);
  const reference = out.join("\n");

  const current = fs.readFileSync(DOC, "utf8");
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  if (start < 0 || end < start) fail(`${path.relative(ROOT, DOC)} has no API reference markers`);
  const next = current.slice(0, start) + reference + current.slice(end + END.length);
  if (process.argv.includes("--check")) {
    if (next !== current) fail(`${path.relative(ROOT, DOC)} is out of date: run \`npm run docs:sdk\``);
    return;
  }
  if (next !== current) fs.writeFileSync(DOC, next);
  process.stderr.write(`${path.relative(ROOT, DOC)}: API reference of ${exports.size} exports\n`);
}

function renderSymbol(name, symbol, ctx) {
  const decl = symbol.declarations?.[0];
  if (!decl) return [];
  const lines = [`#### ${name}`, ""];
  const kind = kindOf(decl);
  const doc = docOf(symbol, ctx);
  if (ts.isClassDeclaration(decl)) {
    lines.push(`*${kind}*`, "");
    if (doc) lines.push(doc, "");
    const ctor = decl.members.find((m) => ts.isConstructorDeclaration(m));
    for (const member of decl.members) {
      if (member === ctor || isHidden(member)) continue;
      lines.push(...renderMember(member, ctx));
    }
  } else if (ts.isInterfaceDeclaration(decl)) {
    const heritage = decl.heritageClauses?.map((h) => h.getText()).join(" ");
    lines.push(`*${kind}*${heritage ? ` \`${heritage}\`` : ""}`, "");
    if (doc) lines.push(doc, "");
    const rows = decl.members.filter((m) => !isHidden(m)).map((m) => memberRow(m, ctx));
    if (rows.length > 0) lines.push("| member | type | description |", "|---|---|---|", ...rows, "");
  } else {
    let code = printDeclaration(decl);
    // `keyof typeof X` says little when X is not exported: show what it stands for.
    if (ts.isTypeAliasDeclaration(decl) && /\btypeof\b/.test(code)) {
      const expanded = ctx.checker.typeToString(
        ctx.checker.getDeclaredTypeOfSymbol(symbol),
        undefined,
        ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.InTypeAlias,
      );
      code = `type ${name} = ${expanded};`;
    }
    lines.push(`*${kind}*`, "", "```ts", code, "```", "");
    if (doc) lines.push(doc, "");
  }
  return lines;
}

function renderMember(member, ctx) {
  const symbol = member.name && ctx.checker.getSymbolAtLocation(member.name);
  const doc = symbol ? docOf(symbol, ctx) : "";
  const signature = flat(printDeclaration(member)).replace(/;$/, "");
  return doc ? [`**\`${signature}\`**`, "", doc, ""] : [`**\`${signature}\`**`, ""];
}

function memberRow(member, ctx) {
  const symbol = member.name && ctx.checker.getSymbolAtLocation(member.name);
  const name = member.name ? member.name.getText() : "(call)";
  const optional = member.questionToken ? "?" : "";
  const readonly = member.modifiers?.some((m) => m.kind === ts.SyntaxKind.ReadonlyKeyword) ? "readonly " : "";
  let type;
  if (ts.isMethodSignature(member)) {
    type = printDeclaration(member).replace(/^[^(]*/, "").replace(/;$/, "");
  } else {
    type = member.type ? flat(member.type.getText()) : "";
  }
  const doc = symbol ? docOf(symbol, ctx).replace(/\n+/g, " ") : "";
  return `| \`${readonly}${name}${optional}\` | ${cell(`\`${type}\``)} | ${cell(doc)} |`;
}

/** The declaration as published, without comments or bodies, on as few lines as it reads well. */
function printDeclaration(node) {
  const printer = ts.createPrinter({ removeComments: true, omitTrailingSemicolon: false });
  const text = printer.printNode(ts.EmitHint.Unspecified, node, node.getSourceFile());
  return text
    .replace(/^export (declare )?/, "")
    .replace(/^declare /, "")
    .trim();
}

/** The TSDoc of a symbol as Markdown: the text, `{@link}`s as links, then @param/@throws tags. */
function docOf(symbol, ctx) {
  const text = partsToMarkdown(symbol.getDocumentationComment(ctx.checker), ctx);
  const tags = symbol
    .getJsDocTags(ctx.checker)
    .filter((t) => t.name !== "internal")
    .map((t) => {
      const body = partsToMarkdown(t.text ?? [], ctx);
      if (t.name === "param") {
        const [param, ...rest] = body.split(" ");
        return `- Parameter \`${param}\`: ${rest.join(" ")}`;
      }
      if (t.name === "throws") return `- Throws ${body}`;
      if (t.name === "returns") return `- Returns ${body}`;
      return `- @${t.name} ${body}`;
    });
  return [text.trim(), tags.join("\n")].filter(Boolean).join("\n\n");
}

function partsToMarkdown(parts, ctx) {
  let out = "";
  let link; // { name, text } while inside `{@link ...}`
  for (const part of parts) {
    if (part.kind === "link") {
      if (part.text.startsWith("{@link")) {
        link = { name: undefined, text: "" };
      } else if (link) {
        // Unresolved links carry their target as the first word of the text.
        const words = link.text.trim().split(/\s+/);
        const name = link.name ?? words.shift() ?? "";
        const label = link.name ? link.text.trim() : words.join(" ");
        out += linkTo(name, label, ctx);
        link = undefined;
      }
      continue;
    }
    if (link && part.kind === "linkName") link.name = part.text;
    else if (link) link.text += part.text;
    else out += part.text;
  }
  return out;
}

function linkTo(name, label, ctx) {
  const target = name.split(".")[0];
  const shown = label || name;
  return ctx.names.has(target) ? `[\`${shown}\`](#${ctx.anchors.get(target) ?? anchor(target)})` : `\`${shown}\``;
}

function isHidden(member) {
  if (member.modifiers?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) return true;
  if (member.name && ts.isPrivateIdentifier(member.name)) return true;
  return ts.getJSDocTags(member).some((t) => t.tagName.text === "internal");
}

function kindOf(decl) {
  if (ts.isClassDeclaration(decl)) return "class";
  if (ts.isInterfaceDeclaration(decl)) return "interface";
  if (ts.isTypeAliasDeclaration(decl)) return "type";
  if (ts.isFunctionDeclaration(decl)) return "function";
  if (ts.isVariableDeclaration(decl)) return "constant";
  return "export";
}

function flat(text) {
  return text.replace(/\s*\n\s*/g, " ");
}

function cell(text) {
  return text.replace(/\|/g, "\\|");
}

function anchor(text) {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, "")
    .replace(/ /g, "-");
}

function fail(message) {
  process.stderr.write(`sdk-docs: ${message}\n`);
  process.exit(1);
}

main();
