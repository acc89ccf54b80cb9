import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODES = Buffer.from(ALPHABET, "latin1");

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
    let t = ms;
    for (let i = 9; i >= 0; i--) {
      id[i] = CODES[t % 32] as number;
      t = Math.floor(t / 32);
    }
  }
  if (poolAt + 16 > pool.length) {
    // One call to the random source for 256 ids rather than one each (a run of 10,000 tasks makes 10,000).
    pool = randomBytes(4096);
    poolAt = 0;
  }
  for (let i = 0; i < 16; i++) id[10 + i] = CODES[(pool[poolAt + i] as number) & 31] as number;
  // Each byte is used once: ids never share their random part.
  poolAt += 16;
  // The characters are written in place and read out as one string, not joined one by one.
  return id.toString("latin1");
}

/** The id being made: its time part stays from one id to the next within a millisecond. */
const id = Buffer.alloc(26);
let lastMs = -1;
let pool: Buffer = Buffer.alloc(0);
let poolAt = 0;
