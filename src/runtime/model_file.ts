/**
 * What an `.onnx` file says about itself beyond what onnxruntime exposes: IR version, opsets,
 * producer, doc string, metadata props and the external data files its initializers point to.
 *
 * Reads the `ModelProto` protobuf with seeks, skipping weight bytes, so inspecting a 2 GB model reads
 * only a few kilobytes.
 *
 * @module
 */
import { RuntimeError } from "../errors.ts";
import { ProtobufFileReader } from "./protobuf_file_reader.ts";

/** Header facts of an ONNX model file. */
export interface OnnxFileInfo {
  /** Path of the file. */
  path: string;
  /** Size of the `.onnx` file in bytes. */
  size: number;
  /** ONNX IR version. */
  irVersion?: number;
  /** Tool that wrote the model (`pytorch`, `spox`, …). */
  producerName?: string;
  /** Version of that tool. */
  producerVersion?: string;
  /** Model domain (reverse-DNS), rarely set. */
  domain?: string;
  /** Model version number, rarely set. */
  modelVersion?: number;
  /** The model's doc string. */
  docString?: string;
  /** Name of the main graph. */
  graphName?: string;
  /** Operator sets: `""` (or `ai.onnx`) is the default domain. */
  opsets: { domain: string; version: number }[];
  /** `metadata_props` key/value pairs. */
  metadata: Record<string, string>;
  /** External data files referenced by initializers (relative to the model), with their size when present. */
  externalData: { location: string; size?: number }[];
  /** Number of initializers (weights) in the graph. */
  initializerCount: number;
}

/**
 * Reads the header of an ONNX model file.
 *
 * @throws {RuntimeError} when the file is not a readable ONNX protobuf.
 * @example
 * ```ts
 * const info = await readOnnxFileInfo("model.onnx");
 * console.log(info.opsets, info.producerName, info.externalData);
 * ```
 */
export async function readOnnxFileInfo(path: string): Promise<OnnxFileInfo> {
  const stat = await Deno.stat(path);
  const file = await Deno.open(path, { read: true });
  const info: OnnxFileInfo = { path, size: stat.size, opsets: [], metadata: {}, externalData: [], initializerCount: 0 };
  const locations = new Set<string>();
  try {
    const r = new ProtobufFileReader(file, stat.size);
    r.fields(stat.size, (field, wire) => {
      if (wire === 0 && field === 1) info.irVersion = r.varint();
      else if (wire === 0 && field === 5) info.modelVersion = r.varint();
      else if (wire === 2 && field === 2) info.producerName = r.string(r.varint());
      else if (wire === 2 && field === 3) info.producerVersion = r.string(r.varint());
      else if (wire === 2 && field === 4) info.domain = r.string(r.varint());
      else if (wire === 2 && field === 6) info.docString = r.string(r.varint());
      else if (wire === 2 && field === 8) {
        const end = r.varint() + r.pos;
        const opset = { domain: "", version: 0 };
        r.fields(end, (f, w) => {
          if (f === 1 && w === 2) opset.domain = r.string(r.varint());
          else if (f === 2 && w === 0) opset.version = r.varint();
        });
        info.opsets.push(opset);
      } else if (wire === 2 && field === 14) {
        const end = r.varint() + r.pos;
        let key = "";
        let value = "";
        r.fields(end, (f, w) => {
          if (f === 1 && w === 2) key = r.string(r.varint());
          else if (f === 2 && w === 2) value = r.string(r.varint());
        });
        info.metadata[key] = value;
      } else if (wire === 2 && field === 7) {
        const end = r.varint() + r.pos;
        r.fields(end, (f, w) => {
          if (f === 2 && w === 2) info.graphName = r.string(r.varint());
          else if (f === 5 && w === 2) {
            info.initializerCount++;
            const tEnd = r.varint() + r.pos;
            r.fields(tEnd, (tf, tw) => {
              if (tf === 13 && tw === 2) {
                const eEnd = r.varint() + r.pos;
                let key = "";
                let value = "";
                r.fields(eEnd, (ef, ew) => {
                  if (ef === 1 && ew === 2) key = r.string(r.varint());
                  else if (ef === 2 && ew === 2) value = r.string(r.varint());
                });
                if (key === "location") locations.add(value);
              }
            });
          }
        });
      } else if (wire > 5 || wire === 3 || wire === 4) {
        throw new Error(`unexpected protobuf wire type ${wire}`);
      }
    });
  } catch (error) {
    throw new RuntimeError(`${path} is not a readable ONNX model: ${(error as Error).message}`, {
      cause: error,
      hint: "check that the file is a complete .onnx file (not a Git LFS pointer or a partial download)",
    });
  } finally {
    file.close();
  }
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  for (const location of locations) {
    let size: number | undefined;
    try {
      size = (await Deno.stat(`${dir}/${location}`)).size;
    } catch {
      size = undefined;
    }
    info.externalData.push({ location, ...(size !== undefined ? { size } : {}) });
  }
  return info;
}
