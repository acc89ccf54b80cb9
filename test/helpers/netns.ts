/**
 * Network namespaces as separate hosts for the remote-agent tests (scripts/netns-hosts.sh):
 * host I has its own network stack and reaches this machine only at 10.213.I.1.
 * `netnsHosts` makes them, or says why it cannot (not root, no `ip`), for the test to skip.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("../../scripts/netns-hosts.sh", import.meta.url));

export interface NetnsHosts {
  /** The namespace of host I (`batonagI`), and the address by which it reaches this machine. */
  hosts: Array<{ ns: string; serverAddress: string }>;
  down(): void;
}

/** Makes hosts numbered `indexes`; a string says why they could not be made. */
export function netnsHosts(indexes: number[]): NetnsHosts | string {
  const args = indexes.map(String);
  try {
    execFileSync("bash", [SCRIPT, "down", ...args], { stdio: "ignore" });
    execFileSync("bash", [SCRIPT, "up", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    try {
      execFileSync("bash", [SCRIPT, "down", ...args], { stdio: "ignore" });
    } catch {
      // nothing to undo
    }
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return `network namespaces unavailable (${stderr || (err as Error).message})`;
  }
  return {
    hosts: indexes.map((i) => ({ ns: `batonag${i}`, serverAddress: `10.213.${i}.1` })),
    down: () => execFileSync("bash", [SCRIPT, "down", ...args], { stdio: "ignore" }),
  };
}
