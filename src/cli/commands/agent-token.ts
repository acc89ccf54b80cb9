/**
 * `baton agent token create|ls|rm`: per-agent tokens of the server (docs/cli.md), through its API
 * with the server's token.
 */
import { ApiClient, findEndpoint } from "../../client/api-client.js";
import { BatonError } from "../../errors.js";
import { table } from "../table.js";

interface TokenView {
  id: string;
  name: string;
  pools: string[];
  createdAt: string;
  lastUsedAt: string | null;
}

const ACTIONS = ["create", "ls", "rm"] as const;

export async function agentTokenCommand(
  action: string,
  id: string | undefined,
  opts: { pool: string[]; name?: string; server?: string; json?: boolean },
): Promise<void> {
  if (!(ACTIONS as readonly string[]).includes(action))
    throw new BatonError("USAGE", `unknown action "${action}": expected one of ${ACTIONS.join(", ")}`);
  const endpoint = opts.server
    ? { url: opts.server.replace(/\/+$/, ""), token: process.env.BATON_TOKEN ?? "" }
    : findEndpoint(process.cwd());
  if (!endpoint)
    throw new BatonError(
      "USAGE",
      "no server: give --server URL (or set BATON_URL), or start `baton server` here",
    );
  const api = new ApiClient(endpoint);
  if (action === "create") {
    if (opts.pool.length === 0)
      throw new BatonError("USAGE", "agent token create: give --pool NAME (repeatable)");
    const created = await api.post<TokenView & { token: string }>("/agent-tokens", {
      pools: opts.pool,
      ...(opts.name !== undefined ? { name: opts.name } : {}),
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(created, null, 2)}\n`);
      return;
    }
    // The token alone on stdout (`BATON_TOKEN=$(baton agent token create ...)`), the rest on stderr.
    process.stderr.write(
      `agent token ${created.id} (${created.name}) for pool${created.pools.length === 1 ? "" : "s"} ${created.pools.join(", ")}; it is shown only now:\n`,
    );
    process.stdout.write(`${created.token}\n`);
    return;
  }
  if (action === "rm") {
    if (!id)
      throw new BatonError("USAGE", "agent token rm: give the token's ID (see `baton agent token ls`)");
    await api.delete(`/agent-tokens/${encodeURIComponent(id)}`);
    process.stderr.write(`agent token ${id} revoked\n`);
    return;
  }
  const { tokens } = await api.get<{ tokens: TokenView[] }>("/agent-tokens");
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(tokens, null, 2)}\n`);
    return;
  }
  if (tokens.length === 0) {
    process.stderr.write("no agent tokens\n");
    return;
  }
  process.stdout.write(
    table(
      ["ID", "NAME", "POOLS", "CREATED", "LAST USED"],
      tokens.map((t) => [t.id, t.name, t.pools.join(","), t.createdAt, t.lastUsedAt ?? "never"]),
    ),
  );
}
