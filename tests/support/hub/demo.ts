/**
 * The local hub's demo content (users alice and bob, repos acme/tiny-onnx, acme/gated-model,
 * acme/private-model and acme/big-file) and its standalone mode,
 * `npx deno run -A tests/support/hub_server.ts --demo [--port N] [--cdn-port N] [--delay-ms N] [--bytes-per-second N]`.
 *
 * @module
 */
import { type HubServer, startHubServer } from "./server.ts";

/** Adds the demo users and repos (also used by the demo mode and benchmarks). */
export function addDemoContent(hub: HubServer): void {
  hub.addUser("alice", "hf_alice_demo_token", { orgs: ["acme"], fullname: "Alice Demo" });
  hub.addUser("bob", "hf_bob_demo_token", { fullname: "Bob Demo" });
  const tiny = hub.addRepo("acme/tiny-onnx", {
    pipelineTag: "feature-extraction",
    libraryName: "transformers.js",
    tags: ["onnx", "bert"],
    license: "apache-2.0",
    downloads: 1200,
    likes: 12,
  });
  const sha = tiny.commit({
    "README.md": "---\nlicense: apache-2.0\ntags:\n  - onnx\n---\n\n# tiny-onnx\n\nA tiny demo model.\n",
    "config.json": JSON.stringify({ architectures: ["BertModel"], model_type: "bert" }),
    "tokenizer.json": JSON.stringify({ version: "1.0", model: { type: "WordPiece", vocab: { "[UNK]": 0 } } }),
    "onnx/model.onnx": { size: 200_000, seed: 1 },
    "onnx/model_fp16.onnx": { size: 100_000, seed: 2 },
    "onnx/model_quantized.onnx": { size: 50_000, seed: 3 },
  }, { message: "Add ONNX weights" });
  tiny.tag("v1.0", sha);
  const gated = hub.addRepo("acme/gated-model", { gated: "manual", libraryName: "onnx", downloads: 10 });
  gated.commit({ "config.json": "{}", "model.onnx": { size: 64_000, seed: 4 } });
  gated.grantAccess("bob");
  const priv = hub.addRepo("acme/private-model", { private: true, libraryName: "onnx" });
  priv.commit({ "config.json": "{}", "model.onnx": { size: 32_000, seed: 5 } });
  const big = hub.addRepo("acme/big-file", { libraryName: "onnx", downloads: 5 });
  big.commit({ "model.onnx": { size: 4096, seed: 6 }, "model.onnx_data": { size: 1_000_000_000, seed: 7 } });
}

/** Serves the demo content until SIGINT, printing the URLs and tokens; `args` as on the command line. */
export async function runDemo(args: string[]): Promise<void> {
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  if (!args.includes("--demo")) {
    console.error(
      "usage: deno run -A tests/support/hub_server.ts --demo [--port N] [--cdn-port N] [--delay-ms N] [--bytes-per-second N]",
    );
    Deno.exit(2);
  }
  const hub = await startHubServer({
    port: flag("--port"),
    cdnPort: flag("--cdn-port"),
    shaping: { firstByteDelayMs: flag("--delay-ms"), bytesPerSecond: flag("--bytes-per-second") },
  });
  addDemoContent(hub);
  console.log(`hub  ${hub.url}   (HF_ENDPOINT=${hub.url})`);
  console.log(`cdn  ${hub.cdnUrl}`);
  console.log("users: alice hf_alice_demo_token (org acme) · bob hf_bob_demo_token (granted acme/gated-model)");
  console.log("repos: acme/tiny-onnx (tag v1.0) · acme/gated-model · acme/private-model · acme/big-file (1 GB)");
  Deno.addSignalListener("SIGINT", () => {
    hub.close().then(() => Deno.exit(0));
  });
}
