/**
 * The runtime of a compiled gpux, in a simulated compiled layout: the `.node` addon alone in one folder (where Deno
 * extracts it) and the libraries in another (the binary's embedded files). Extraction into the versioned runtime
 * folder happens once, is checked, is reused, is repaired when damaged; preloading it makes the lone addon load.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { extractEmbeddedRuntime, isCompiledBinary } from "../src/runtime/embedded_runtime.ts";
import { ortBinaryDir } from "../src/runtime/providers.ts";
import { envFrom } from "../src/environment.ts";

const linuxX64 = Deno.build.os === "linux" && Deno.build.arch === "x86_64";
const ORT_DIR = ortBinaryDir()!;

async function withLayout(fn: (tmp: string, embedded: string, addon: string) => Promise<void>): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "gpux-embedded-" });
  try {
    const embedded = `${tmp}/embedded/onnxruntime-node/bin/napi-v6/linux/x64`;
    const addon = `${tmp}/deno-compile-gpux/extracted`;
    await Deno.mkdir(embedded, { recursive: true });
    await Deno.mkdir(addon, { recursive: true });
    await Deno.copyFile(`${ORT_DIR}/libonnxruntime.so.1`, `${embedded}/libonnxruntime.so.1`);
    await Deno.writeFile(`${embedded}/libonnxruntime_providers_shared.so`, new Uint8Array([1, 2, 3]));
    await Deno.copyFile(`${ORT_DIR}/onnxruntime_binding.node`, `${embedded}/onnxruntime_binding.node`);
    await Deno.copyFile(`${ORT_DIR}/onnxruntime_binding.node`, `${addon}/onnxruntime_binding.node`);
    await fn(tmp, embedded, addon);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test({
  name:
    "embedded runtime: extracted once into $GPUX_HOME/runtime/onnxruntime-<v>-<os>-<arch>, checked, reused, repaired",
  ignore: !linuxX64,
  fn: async () => {
    await withLayout(async (tmp, embedded) => {
      const env = envFrom({ GPUX_HOME: `${tmp}/state`, HOME: tmp });
      const first = await extractEmbeddedRuntime({ sourceDir: embedded, env });
      assertEquals(first.dir, `${tmp}/state/runtime/onnxruntime-1.29.0-linux-x64`);
      assert(first.extracted);
      assertEquals(first.files.map((f) => f.name), ["libonnxruntime.so.1", "libonnxruntime_providers_shared.so"]);
      const lib = `${first.dir}/libonnxruntime.so.1`;
      assertEquals((await Deno.stat(lib)).size, (await Deno.stat(`${embedded}/libonnxruntime.so.1`)).size);
      const manifest = JSON.parse(await Deno.readTextFile(`${first.dir}/gpux-runtime.json`));
      assertEquals(manifest.library.name, "libonnxruntime.so.1");
      assertMatch(manifest.library.sha256, /^[0-9a-f]{64}$/);
      assertEquals(manifest.files.map((f: { name: string }) => f.name), ["libonnxruntime_providers_shared.so"]);
      assertEquals([...Deno.readDirSync(first.dir)].some((e) => e.name.includes(".tmp-")), false);

      const mtime = (await Deno.stat(lib)).mtime?.getTime();
      const second = await extractEmbeddedRuntime({ sourceDir: embedded, env });
      assertEquals(second.extracted, false, "reused");
      assertEquals((await Deno.stat(lib)).mtime?.getTime(), mtime);

      await Deno.truncate(lib, 1000); // damaged (an interrupted copy, a full disk)
      const third = await extractEmbeddedRuntime({ sourceDir: embedded, env });
      assert(third.extracted, "a damaged copy is written again");
      assertEquals((await Deno.stat(lib)).size, (await Deno.stat(`${embedded}/libonnxruntime.so.1`)).size);
    });
  },
});

Deno.test({
  name: "embedded runtime: the addon alone fails to load, and loads once the extracted folder is preloaded",
  ignore: !linuxX64,
  fn: async () => {
    await withLayout(async (tmp, embedded, addon) => {
      const env = envFrom({ GPUX_HOME: `${tmp}/state`, HOME: tmp });
      const { dir } = await extractEmbeddedRuntime({ sourceDir: embedded, env });
      const folderModule = new URL("../src/runtime/runtime_folder.ts", import.meta.url).href;
      const script = `${tmp}/load.ts`;
      await Deno.writeTextFile(
        script,
        `import { createRequire } from "node:module";
import { preloadOnnxruntime } from ${JSON.stringify(folderModule)};
if (Deno.args[0]) preloadOnnxruntime(Deno.args[0]);
const binding = createRequire(import.meta.url)(${JSON.stringify(`${addon}/onnxruntime_binding.node`)});
console.log(typeof binding.InferenceSession);
`,
      );
      const load = async (preload: string) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--no-config", script, ...(preload ? [preload] : [])],
          cwd: tmp,
          stdout: "piped",
          stderr: "piped",
        }).output();
        return { code: out.code, text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) };
      };
      const alone = await load("");
      assert(alone.code !== 0, alone.text);
      assertMatch(alone.text, /libonnxruntime\.so\.1/);
      const preloaded = await load(dir);
      assertEquals(preloaded.code, 0, preloaded.text);
      assertEquals(preloaded.text.trim(), "function");
    });
  },
});

Deno.test("embedded runtime: a compiled binary is recognised by its deno-compile module root", () => {
  assert(isCompiledBinary("file:///tmp/deno-compile-gpux/src/runtime/embedded_runtime.ts"));
  assert(!isCompiledBinary(import.meta.url));
});
