/**
 * Takes a few named files out of a package archive — an npm `.tgz` (gzip + tar) or a NuGet `.nupkg` (zip) —
 * streaming them to disk, without unpacking the rest.
 *
 * Deno's own `DecompressionStream` (`gzip`, `deflate-raw`) does the decompression and the two container
 * formats are read here (tar: 512-byte headers, with the ustar prefix and pax `path` records; zip: the central
 * directory, stored or deflated entries). No dependency: nothing more to install or to embed in a compiled
 * binary, and the 200+ MB provider libraries stream through in bounded memory (an npm tar library would add
 * code for formats these packages never use).
 *
 * @module
 */
import { IntegrityError } from "../errors.ts";

/** A file taken out of an archive. */
export interface ExtractedFile {
  /** Its path inside the archive. */
  entry: string;
  /** Where it was written. */
  path: string;
  /** Bytes written. */
  size: number;
}

/** Chooses entries: the file name to write an entry as, or `undefined` to skip it. */
export type EntrySelector = (entryPath: string) => string | undefined;

/**
 * Largest entry taken from or skipped in a tar archive (4 GiB): the CUDA provider libraries are a few hundred MB,
 * and a header claiming more (or a gzip bomb behind it) would otherwise fill the disk.
 */
export const MAX_TAR_ENTRY_BYTES = 4 * 1024 ** 3;

/** Reads exact byte counts from a stream. */
class StreamReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffer: Uint8Array = new Uint8Array(0);
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }
  async #fill(n: number): Promise<boolean> {
    while (this.#buffer.length < n) {
      const { value, done } = await this.#reader.read();
      if (done) return false;
      const joined = new Uint8Array(this.#buffer.length + value.length);
      joined.set(this.#buffer);
      joined.set(value, this.#buffer.length);
      this.#buffer = joined;
    }
    return true;
  }
  /** Exactly `n` bytes, or `undefined` at the end of the stream. */
  async read(n: number): Promise<Uint8Array | undefined> {
    if (!(await this.#fill(n))) return undefined;
    const out = this.#buffer.slice(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }
  /** Passes `n` bytes to `sink` chunk by chunk (the buffered part first). */
  async pipe(n: number, sink: ((chunk: Uint8Array) => Promise<void>) | undefined): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.#buffer.length === 0) {
        const { value, done } = await this.#reader.read();
        if (done) throw new Error("the archive ended in the middle of a file");
        this.#buffer = value;
      }
      const take = Math.min(left, this.#buffer.length);
      if (sink) await sink(this.#buffer.subarray(0, take));
      this.#buffer = this.#buffer.subarray(take);
      left -= take;
    }
  }
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

const decoder = new TextDecoder();

function field(header: Uint8Array, start: number, length: number): string {
  const bytes = header.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return decoder.decode(end >= 0 ? bytes.subarray(0, end) : bytes);
}

function octal(header: Uint8Array, start: number, length: number): number {
  const text = field(header, start, length).trim();
  return text ? parseInt(text, 8) : 0;
}

function pax(records: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of decoder.decode(records).split("\n")) {
    const m = /^\d+ ([^=]+)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

async function writeTo(path: string): Promise<{ write: (c: Uint8Array) => Promise<void>; close: () => void }> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o755 });
  return {
    write: async (chunk) => {
      let offset = 0;
      while (offset < chunk.length) offset += await file.write(chunk.subarray(offset));
    },
    close: () => file.close(),
  };
}

function bad(archive: string, what: string): IntegrityError {
  return new IntegrityError(`${archive} is not a valid package archive: ${what}`, {
    hint: "delete it and download again (or check the file given to --from)",
  });
}

/**
 * Writes the entries `select` names from a `.tgz` (`.tar.gz`) into `destDir`.
 *
 * @throws {IntegrityError} the archive is truncated or not a gzip'd tar.
 */
export async function extractTarGz(archive: string, select: EntrySelector, destDir: string): Promise<ExtractedFile[]> {
  const file = await Deno.open(archive);
  const reader = new StreamReader(
    file.readable.pipeThrough(new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>),
  );
  const out: ExtractedFile[] = [];
  let longName: string | undefined;
  try {
    for (;;) {
      const header = await reader.read(512);
      if (!header) break;
      if (header.every((b) => b === 0)) break; // end-of-archive marker
      const size = octal(header, 124, 12);
      if (!(size <= MAX_TAR_ENTRY_BYTES)) {
        throw new Error(`an entry declares ${size} bytes, more than the ${MAX_TAR_ENTRY_BYTES} a provider file has`);
      }
      const type = String.fromCharCode(header[156] || 48);
      const padded = Math.ceil(size / 512) * 512;
      if (type === "x" || type === "L") {
        const data = await reader.read(padded);
        if (!data) throw new Error("truncated extended header");
        longName = type === "L" ? field(data, 0, size) : pax(data.subarray(0, size)).path ?? longName;
        continue;
      }
      const prefix = field(header, 345, 155);
      const name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
      longName = undefined;
      const target = type === "0" || type === "\0" || type === "7" ? select(name) : undefined;
      if (target === undefined) {
        await reader.pipe(padded, undefined);
        continue;
      }
      const path = `${destDir}/${target}`;
      const sink = await writeTo(path);
      try {
        await reader.pipe(size, sink.write);
      } finally {
        sink.close();
      }
      await reader.pipe(padded - size, undefined);
      out.push({ entry: name, path, size });
    }
  } catch (error) {
    await reader.cancel();
    if (error instanceof IntegrityError) throw error;
    throw bad(archive, (error as Error).message);
  }
  await reader.cancel();
  return out;
}

/**
 * Writes the entries `select` names from a zip (`.nupkg`) into `destDir`, reading the central directory
 * (stored and deflated entries; zip64 archives are refused).
 *
 * @throws {IntegrityError} the archive is not a zip or uses what is not supported here.
 */
export async function extractZip(archive: string, select: EntrySelector, destDir: string): Promise<ExtractedFile[]> {
  const file = await Deno.open(archive);
  try {
    const size = (await file.stat()).size;
    const tailLength = Math.min(size, 65_557);
    const tail = new Uint8Array(tailLength);
    await readAt(file, size - tailLength, tail);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail[i] === 0x50 && tail[i + 1] === 0x4b && tail[i + 2] === 5 && tail[i + 3] === 6) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw bad(archive, "no zip end-of-central-directory record");
    const view = new DataView(tail.buffer, eocd);
    const count = view.getUint16(10, true);
    const dirSize = view.getUint32(12, true);
    const dirOffset = view.getUint32(16, true);
    if (dirOffset === 0xffffffff || count === 0xffff) throw bad(archive, "zip64 archives are not supported");
    // the record's sizes are claims: a directory beyond the file is corrupt, not a 4 GB buffer to allocate
    if (dirOffset + dirSize > size) throw bad(archive, "the central directory lies beyond the end of the file");
    const dir = new Uint8Array(dirSize);
    await readAt(file, dirOffset, dir);
    const dv = new DataView(dir.buffer);
    const out: ExtractedFile[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (dv.getUint32(p, true) !== 0x02014b50) throw bad(archive, "corrupt central directory");
      const method = dv.getUint16(p + 10, true);
      const compressed = dv.getUint32(p + 20, true);
      const uncompressed = dv.getUint32(p + 24, true);
      const nameLength = dv.getUint16(p + 28, true);
      const extraLength = dv.getUint16(p + 30, true);
      const commentLength = dv.getUint16(p + 32, true);
      const localOffset = dv.getUint32(p + 42, true);
      const name = decoder.decode(dir.subarray(p + 46, p + 46 + nameLength));
      p += 46 + nameLength + extraLength + commentLength;
      const target = name.endsWith("/") ? undefined : select(name);
      if (target === undefined) continue;
      if (method !== 0 && method !== 8) throw bad(archive, `${name} uses compression method ${method}`);
      const local = new Uint8Array(30);
      await readAt(file, localOffset, local);
      const lv = new DataView(local.buffer);
      if (lv.getUint32(0, true) !== 0x04034b50) throw bad(archive, `no local header for ${name}`);
      const dataStart = localOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
      const path = `${destDir}/${target}`;
      if (dataStart + compressed > size) throw bad(archive, `${name} lies beyond the end of the file`);
      const written = await copyEntry(file, dataStart, compressed, method === 8, path, uncompressed);
      if (written !== uncompressed) throw bad(archive, `${name}: ${written} bytes instead of ${uncompressed}`);
      out.push({ entry: name, path, size: written });
    }
    return out;
  } catch (error) {
    if (error instanceof IntegrityError) throw error;
    throw bad(archive, (error as Error).message);
  } finally {
    file.close();
  }
}

async function readAt(file: Deno.FsFile, offset: number, into: Uint8Array): Promise<void> {
  await file.seek(offset, Deno.SeekMode.Start);
  let n = 0;
  while (n < into.length) {
    const got = await file.read(into.subarray(n));
    if (got === null) throw new Error("unexpected end of file");
    n += got;
  }
}

async function copyEntry(
  file: Deno.FsFile,
  start: number,
  length: number,
  deflated: boolean,
  path: string,
  declared: number,
): Promise<number> {
  let position = start;
  const end = start + length;
  const raw = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (position >= end) return controller.close();
      const chunk = new Uint8Array(Math.min(1 << 20, end - position));
      await readAt(file, position, chunk);
      position += chunk.length;
      controller.enqueue(chunk);
    },
  });
  const stream: ReadableStream<Uint8Array> = deflated
    ? raw.pipeThrough(new DecompressionStream("deflate-raw") as unknown as TransformStream<Uint8Array, Uint8Array>)
    : raw;
  const sink = await writeTo(path);
  let written = 0;
  try {
    for await (const chunk of stream) {
      written += chunk.length;
      // a deflate bomb inflates past what its entry declares: stop there, not when the disk is full
      if (written > declared) throw new Error(`inflates to more than the ${declared} bytes it declares`);
      await sink.write(chunk);
    }
  } finally {
    sink.close();
  }
  return written;
}
