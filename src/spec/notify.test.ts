import { describe, expect, it } from "vitest";
import { problems, yaml } from "../../test/helpers/spec-problems.js";
import { parseProjectText } from "./parse.js";

const project = (...notify: string[]) =>
  yaml("version: 1", "pipelines:", "  p:", "    nodes:", "      a: { run: echo }", "    notify:", ...notify);

describe("notify:", () => {
  it("reads webhooks (any http(s) host, secret, slack format) and e-mail entries", () => {
    const spec = parseProjectText(
      project(
        "      - on: [failure, success]",
        "        webhook: https://hooks.slack.com/services/T0/B0/X",
        "        secret: ${{ env.HOOK_SECRET }}",
        "        format: slack",
        "      - on: approval",
        "        email: [a@example.com, b@example.com]",
        "      - webhook: http://127.0.0.1:9000/hook",
      ),
      "baton.yaml",
    );
    expect(spec.pipelines.p!.notify).toMatchObject([
      {
        on: ["failure", "success"],
        webhook: "https://hooks.slack.com/services/T0/B0/X",
        secret: "${{ env.HOOK_SECRET }}",
        format: "slack",
      },
      { on: ["approval"], email: ["a@example.com", "b@example.com"] },
      { on: ["success", "failure", "cancelled", "approval"], webhook: "http://127.0.0.1:9000/hook" },
    ]);
  });

  it("takes defaults: notify for pipelines without their own; a pipeline's own list replaces it", () => {
    const spec = parseProjectText(
      yaml(
        "version: 1",
        "defaults:",
        "  notify:",
        "    - { on: [failure], email: [ops@example.com] }",
        "pipelines:",
        "  a:",
        "    nodes: { x: { run: echo } }",
        "  b:",
        "    nodes: { x: { run: echo } }",
        "    notify: [{ on: [success], webhook: 'http://127.0.0.1:1/h' }]",
        "  c:",
        "    nodes: { x: { run: echo } }",
        "    notify: []",
      ),
      "baton.yaml",
    );
    expect(spec.pipelines.a!.notify).toMatchObject([{ on: ["failure"], email: ["ops@example.com"] }]);
    expect(spec.pipelines.b!.notify).toMatchObject([{ on: ["success"], webhook: "http://127.0.0.1:1/h" }]);
    expect(spec.pipelines.c!.notify).toEqual([]);
  });

  it("refuses a bad URL, an unknown event, and e-mail that is not a list of addresses, with file:line:column", () => {
    expect(problems(project("      - webhook: not a url"))).toEqual([
      'baton.yaml:7:18 pipelines.p.notify[0].webhook: invalid URL "not a url"',
    ]);
    expect(problems(project("      - { on: [failure, done], webhook: 'http://127.0.0.1:1/h' }"))).toEqual([
      'baton.yaml:7:25 pipelines.p.notify[0].on[1]: unknown event "done" (expected success, failure, cancelled or approval)',
    ]);
    expect(problems(project("      - email: a@example.com"))).toEqual([
      'baton.yaml:7:16 pipelines.p.notify[0].email: expected a list, found "a@example.com"',
    ]);
    expect(problems(project("      - email: [a@example.com, nobody]"))).toEqual([
      'baton.yaml:7:32 pipelines.p.notify[0].email[1]: expected an e-mail address, found "nobody"',
    ]);
    expect(problems(project("      - { on: [failure] }"))).toEqual([
      "baton.yaml:7:9 pipelines.p.notify[0]: a notify entry needs exactly one of webhook or email",
    ]);
    expect(problems(project("      - { email: [a@example.com], secret: x }"))).toEqual([
      "baton.yaml:7:9 pipelines.p.notify[0]: secret is for webhooks, not email",
    ]);
    expect(
      problems(project("      - { webhook: 'http://127.0.0.1:1/h', secret: '${{ params.x }}' }")),
    ).toEqual([
      expect.stringMatching(
        /^baton\.yaml:7:\d+ pipelines\.p\.notify\[0\]\.secret: notify templates may only read env\.NAME, not "params"$/,
      ),
    ]);
    expect(
      problems(
        yaml(
          "version: 1",
          "defaults:",
          "  notify: [{ webhook: 'ftp://x/y' }]",
          "pipelines:",
          "  p: { nodes: { a: { run: echo } } }",
        ),
      ),
    ).toEqual([
      'baton.yaml:3:23 defaults.notify[0].webhook: webhook "ftp://x/y" must be an http:// or https:// URL',
    ]);
  });
});
