/**
 * One record of a model's Hub metadata: `HubModelRecord` (what the Hub client reads) declares the fields, and
 * `ModelMetadata` (what `getModelInfo` answers) is that record at the resolved commit, less `author`/`config`,
 * plus what gpux derives. Checked through the real client against the local hub: every shared field carries the
 * same value in both.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { startHubServer } from "./support/hub_server.ts";
import { envFrom } from "../src/environment.ts";
import { HuggingFaceManager } from "../src/registry/huggingface.ts";
import type { HubModelRecord, ModelMetadata } from "../src/registry/manager.ts";

/** The fields ModelMetadata takes from the record (a compile error here when the two drift apart). */
const SHARED = [
  "id",
  "private",
  "gated",
  "pipelineTag",
  "libraryName",
  "tags",
  "license",
  "downloads",
  "likes",
  "lastModified",
] as const satisfies readonly (keyof HubModelRecord & keyof ModelMetadata)[];

Deno.test("hub record: getModelInfo carries the Hub record's fields with the record's values", async () => {
  const hub = await startHubServer();
  try {
    const repo = hub.addRepo("acme/record", {
      pipelineTag: "text-classification",
      libraryName: "transformers.js",
      tags: ["onnx", "license:apache-2.0"],
      license: "apache-2.0",
      downloads: 42,
      likes: 3,
    });
    const sha = repo.commit({ "onnx/model.onnx": new Uint8Array(100).fill(1) });
    const manager = new HuggingFaceManager({ endpoint: hub.url, env: envFrom({}), retryBaseDelayMs: 1 });
    const { info: record } = await manager.resolveRevision("acme/record");
    const metadata = await manager.getModelInfo("acme/record");
    assertEquals(metadata.sha, sha);
    assertEquals(record.sha, sha);
    const pick = (from: HubModelRecord | ModelMetadata) => Object.fromEntries(SHARED.map((k) => [k, from[k]]));
    assertEquals(pick(metadata), pick(record));
    // the record really carried them (a test of two empty objects would prove nothing)
    assertEquals([record.pipelineTag, record.license, record.downloads, record.likes], [
      "text-classification",
      "apache-2.0",
      42,
      3,
    ]);
    assert(!("author" in metadata) && !("config" in metadata), "author and config stay in the client's record");
  } finally {
    await hub.close();
  }
});
