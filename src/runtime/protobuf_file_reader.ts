/**
 * Reads protobuf fields from a file with seeks, so that an ONNX model's structure can be walked without reading its
 * weights into memory: `model_file.ts` reads a header this way, `mapped_weights.ts` a graph.
 *
 * The protobuf wire format: each field is a varint tag (`field number << 3 | wire type`), then a varint (type 0),
 * 8 bytes (1), a varint length and that many bytes (2) or 4 bytes (5).
 *
 * @module
 */

/** A cursor over a protobuf file, read through a 64 KiB window. */
export class ProtobufFileReader {
  #file: Deno.FsFile;
  #buf = new Uint8Array(64 * 1024);
  #bufStart = 0;
  #bufLen = 0;
  /** Offset of the next byte to read. */
  pos = 0;
  /** @param file an open file; @param size its size in bytes */
  constructor(file: Deno.FsFile, readonly size: number) {
    this.#file = file;
  }
  #fill(): void {
    this.#file.seekSync(this.pos, Deno.SeekMode.Start);
    this.#bufStart = this.pos;
    this.#bufLen = 0;
    while (this.#bufLen < this.#buf.length) {
      const n = this.#file.readSync(this.#buf.subarray(this.#bufLen));
      if (n === null || n === 0) break;
      this.#bufLen += n;
    }
    if (this.#bufLen === 0) throw new Error("unexpected end of file");
  }
  /** The next byte. */
  byte(): number {
    if (this.pos >= this.size) throw new Error("unexpected end of file");
    if (this.pos < this.#bufStart || this.pos >= this.#bufStart + this.#bufLen) this.#fill();
    return this.#buf[this.pos++ - this.#bufStart];
  }
  /** A varint (up to 2^53 exactly). */
  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return result;
      shift += 7;
      if (shift > 63) throw new Error("malformed varint");
    }
  }
  /** The next `n` bytes, as a copy. */
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.size) throw new Error("field runs past the end of the file");
    const out = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      if (this.pos < this.#bufStart || this.pos >= this.#bufStart + this.#bufLen) this.#fill();
      const from = this.pos - this.#bufStart;
      const take = Math.min(n - done, this.#bufLen - from);
      out.set(this.#buf.subarray(from, from + take), done);
      done += take;
      this.pos += take;
    }
    return out;
  }
  /** The next `n` bytes as UTF-8 text. */
  string(n: number): string {
    return new TextDecoder().decode(this.bytes(n));
  }
  /** Skips a field's value of wire type `wire`. */
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) {
      const length = this.varint(); // not `this.pos += this.varint()`: that reads pos before the varint moves it
      this.pos += length;
    } else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
    if (this.pos > this.size) throw new Error("field runs past the end of the file");
  }
  /** Calls `onField(field, wire)` for each field until `end`; a field the callback does not consume is skipped. */
  fields(end: number, onField: (field: number, wire: number) => void): void {
    while (this.pos < end) {
      const tag = this.varint();
      const before = this.pos;
      onField(Math.floor(tag / 8), tag & 7);
      if (this.pos === before) this.skip(tag & 7);
    }
    if (this.pos !== end) throw new Error("a field runs past the end of its message");
  }
}
