/**
 * The in-order hasher (src/download/in_order_hasher.ts): bytes offered in order are hashed from
 * memory, bytes that landed ahead are read back from disk, and every byte is hashed exactly once.
 */
import { assertEquals } from "./support/assert.ts";
import { InOrderHasher } from "../src/download/in_order_hasher.ts";
import { createHash } from "node:crypto";

const SIZE = 3 * 1024 * 1024 + 17;

function content(): Uint8Array {
  const bytes = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i++) bytes[i] = (i * 31 + (i >> 11)) & 0xff;
  return bytes;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function withFile(bytes: Uint8Array, fn: (file: Deno.FsFile) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempFile({ prefix: "gpux-hasher-" });
  try {
    await Deno.writeFile(path, bytes);
    using file = await Deno.open(path, { read: true });
    await fn(file);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("in-order hasher: bytes offered in order are hashed from memory; out of place ones are ignored", () => {
  const bytes = content();
  const hasher = new InOrderHasher("sha256", SIZE);
  hasher.offer(1000, bytes.subarray(1000, 2000));
  assertEquals(hasher.hashed, 0, "bytes ahead of the position wait for the disk");
  for (let at = 0; at < SIZE; at += 65536) hasher.offer(at, bytes.subarray(at, Math.min(SIZE, at + 65536)));
  hasher.offer(0, bytes.subarray(0, 10));
  assertEquals(hasher.hashed, SIZE, "bytes behind the position are not hashed twice");
  assertEquals(hasher.digest(), sha256(bytes));
});

Deno.test("in-order hasher: parts that landed ahead are read back from disk, then memory takes over", async () => {
  const bytes = content();
  await withFile(bytes, async (file) => {
    const hasher = new InOrderHasher("sha256", SIZE);
    hasher.offer(0, bytes.subarray(0, 4096));
    // the rest of the first MiB and the next 2 MiB arrived on other connections, out of order
    await hasher.catchUp(file, 3 * 1024 * 1024);
    assertEquals(hasher.hashed, 3 * 1024 * 1024);
    await hasher.catchUp(file, 1024);
    assertEquals(hasher.hashed, 3 * 1024 * 1024, "catching up to a point behind does nothing");
    hasher.offer(3 * 1024 * 1024, bytes.subarray(3 * 1024 * 1024));
    assertEquals(hasher.hashed, SIZE);
    assertEquals(hasher.digest(), sha256(bytes));
  });
});

Deno.test("in-order hasher: an offer made while a read from disk is under way is left to that read", async () => {
  const bytes = content();
  await withFile(bytes, async (file) => {
    const hasher = new InOrderHasher("sha256", SIZE);
    const reading = hasher.catchUp(file, SIZE);
    // the read is under way (its first step is synchronous): the bytes at the position are on disk
    hasher.offer(hasher.hashed, bytes.subarray(hasher.hashed, hasher.hashed + 100));
    await reading;
    assertEquals(hasher.hashed, SIZE);
    assertEquals(hasher.digest(), sha256(bytes), "nothing hashed twice");
  });
});

Deno.test("in-order hasher: a git blob sha1 covers the size header and the content", () => {
  const bytes = new TextEncoder().encode("hello\n");
  const hasher = new InOrderHasher("git-sha1", bytes.length);
  hasher.offer(0, bytes);
  assertEquals(hasher.digest(), "ce013625030ba8dba906f756967f9e9ca394464a");
});
