/**
 * Runtime folders: names, discovery, choice, and — in a fresh process, since a preload is process-wide —
 * that onnxruntime-node really binds to the folder's libonnxruntime and loads providers from that folder.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import {
  chooseRuntimeFolder,
  listRuntimeFolders,
  ORT_VERSION,
  parseRuntimeFolderName,
  populateRuntimeFolder,
  RUNTIME_MANIFEST,
  runtimeFolderName,
  runtimeFolderPath,
} from "../src/runtime/runtime_folder.ts";
import { ortBinaryDir } from "../src/runtime/providers.ts";
import { envFrom } from "../src/environment.ts";
import { TINY_MODEL_BASE64 } from "../src/runtime/diagnostics.ts";

Deno.test("runtime folder names: onnxruntime-<version>-<os>-<arch>[-cuda<N>], parsed back; under GPUX_HOME", () => {
  const spec = { version: "1.29.0", os: "linux", arch: "x86_64", cuda: 13 };
  assertEquals(runtimeFolderName(spec), "onnxruntime-1.29.0-linux-x64-cuda13");
  assertEquals(parseRuntimeFolderName("onnxruntime-1.29.0-linux-x64-cuda13"), spec);
  assertEquals(parseRuntimeFolderName("onnxruntime-1.29.0-darwin-arm64"), {
    version: "1.29.0",
    os: "darwin",
    arch: "aarch64",
  });
  assertEquals(parseRuntimeFolderName(".onnxruntime-1.29.0-linux-x64-cuda13.tmp-1234"), undefined);
  assertEquals(parseRuntimeFolderName("../etc"), undefined);
  assertEquals(
    runtimeFolderPath(spec, envFrom({ HOME: "/h" })),
    "/h/.gpux/runtime/onnxruntime-1.29.0-linux-x64-cuda13",
  );
  assertEquals(runtimeFolderPath(spec, envFrom({ GPUX_HOME: "/g" })), "/g/runtime/onnxruntime-1.29.0-linux-x64-cuda13");
});

Deno.test("ORT_VERSION is the onnxruntime-node version deno.json pins", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assertEquals(config.imports["onnxruntime-node"], `npm:onnxruntime-node@${ORT_VERSION}`);
});

Deno.test("listRuntimeFolders: a folder without manifest or libonnxruntime has a problem and is never chosen", async () => {
  const home = await Deno.makeTempDir();
  try {
    const env = envFrom({ GPUX_HOME: home });
    const make = async (cuda: number, manifest: boolean, lib: boolean) => {
      const dir = runtimeFolderPath({ version: ORT_VERSION, os: "linux", arch: "x86_64", cuda }, env);
      await Deno.mkdir(dir, { recursive: true });
      if (lib) await Deno.writeTextFile(`${dir}/libonnxruntime.so.1`, "x");
      if (manifest) {
        await Deno.writeTextFile(
          `${dir}/${RUNTIME_MANIFEST}`,
          JSON.stringify({ format: 1, provider: "cuda", source: { kind: "npm", name: "p" }, files: [] }),
        );
      }
    };
    await make(11, false, true);
    await make(12, true, true);
    await make(13, true, false);
    await Deno.mkdir(`${home}/runtime/.onnxruntime-1.29.0-linux-x64-cuda13.tmp-ab`); // an install in progress
    // a plain folder (a compiled binary's extracted libonnxruntime) needs no manifest
    await Deno.mkdir(`${home}/runtime/onnxruntime-${ORT_VERSION}-linux-x64`);
    await Deno.writeTextFile(`${home}/runtime/onnxruntime-${ORT_VERSION}-linux-x64/libonnxruntime.so.1`, "x");
    const folders = listRuntimeFolders(env);
    assertEquals(folders.map((f) => [f.spec.cuda, f.problem]), [
      [undefined, undefined],
      [11, `no ${RUNTIME_MANIFEST} (an interrupted install?)`],
      [12, undefined],
      [13, "libonnxruntime.so.1 is missing"],
    ]);
    const linux = { os: "linux", arch: "x86_64" };
    assertEquals(chooseRuntimeFolder(folders, linux)?.spec.cuda, 12);
    assertEquals(chooseRuntimeFolder(folders.filter((f) => f.spec.cuda !== 12), linux)?.spec.cuda, undefined);
    assertEquals(
      chooseRuntimeFolder(folders.filter((f) => f.spec.cuda !== 12), linux)?.path,
      `${home}/runtime/onnxruntime-${ORT_VERSION}-linux-x64`,
    );
    assertEquals(chooseRuntimeFolder(folders, { ...linux, version: "1.30.0" }), undefined);
    assertEquals(chooseRuntimeFolder(folders, { os: "darwin", arch: "aarch64" }), undefined);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("chooseRuntimeFolder: the CUDA version present here first, else the newest", () => {
  const folder = (cuda: number) => ({
    path: `/r/${cuda}`,
    spec: { version: ORT_VERSION, os: "linux", arch: "x86_64", cuda },
  });
  const both = [folder(12), folder(13)];
  assertEquals(chooseRuntimeFolder(both, { os: "linux", arch: "x86_64", cudaPresent: [12] })?.spec.cuda, 12);
  assertEquals(chooseRuntimeFolder(both, { os: "linux", arch: "x86_64", cudaPresent: [] })?.spec.cuda, 13);
});

Deno.test({
  name: "preloaded runtime folder: onnxruntime-node binds to its libonnxruntime and tries its provider libraries",
  ignore: Deno.build.os !== "linux" || Deno.build.arch !== "x86_64",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await populateRuntimeFolder(dir, `${ortBinaryDir()}/libonnxruntime.so.1`);
      await Deno.writeTextFile(`${dir}/libonnxruntime_providers_shared.so`, "dummy");
      await Deno.writeTextFile(`${dir}/libonnxruntime_providers_cuda.so`, "dummy");
      const script = `
        import { loadedOrtLibrary, preloadOnnxruntime } from "${new URL(
        "../src/runtime/runtime_folder.ts",
        import.meta.url,
      )}";
        preloadOnnxruntime(${JSON.stringify(dir)});
        const ort = await import("onnxruntime-node");
        console.log(loadedOrtLibrary());
        const model = Uint8Array.from(atob("${TINY_MODEL_BASE64}"), (c) => c.charCodeAt(0));
        try {
          await ort.InferenceSession.create(model, { executionProviders: ["cuda"], logSeverityLevel: 0 });
        } catch (e) { console.log(e.message); }`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", "--quiet", `--config=${new URL("../deno.json", import.meta.url).pathname}`, script],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert(out.success, stderr);
      // the dynamic loader says which copy is in use; onnxruntime's own log says which provider file it tried
      assertEquals(stdout.split("\n")[0], `${dir}/libonnxruntime.so.1`);
      assertStringIncludes(stdout, "Failed to load shared library");
      assertMatch(
        stderr,
        new RegExp(`Failed to load library ${dir}/libonnxruntime_providers_shared\\.so .*file too short`),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("no GPUX_HOME and no HOME: no runtime folders (onnxruntime-node's own library is used), no exception", () => {
  assertEquals(listRuntimeFolders(envFrom({})), []);
});
