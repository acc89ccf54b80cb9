import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * A ULID: 26 characters, a 10-character time prefix (milliseconds) then 16 random ones, fresh
 * for each id. Two ids made in the same millisecond differ from the 11th character on, so a
 * short prefix past the time tells them apart. Ids made in one millisecond do not sort in
 * creation order: order by creation time and insertion order instead.
 */
export function ulid(now = Date.now()): string {
  const ms = Math.max(0, Math.floor(now));
  // A fan-out makes thousands of ids in the same millisecond: their time part is written once.
  if (ms !== lastMs) {
    lastMs = ms;
    lastTime = "";
    let t = ms;
    for (let i = 0; i < 10; i++) {
      lastTime = ALPHABET[t % 32] + lastTime;
      t = Math.floor(t / 32);
    }
  }
  const time = lastTime;
  let random = "";
  if (poolAt + 16 > pool.length) {
    // One call to the random source for 256 ids rather than one each (a run of 10,000 tasks makes 10,000).
    pool = randomBytes(4096);
    poolAt = 0;
  }
  for (let i = 0; i < 16; i++) random += ALPHABET[(pool[poolAt + i] as number) & 31];
  // Each byte is used once: ids never share their random part.
  poolAt += 16;
  return time + random;
}

let lastMs = -1;
let lastTime = "";
let pool: Buffer = Buffer.alloc(0);
let poolAt = 0;
