/**
 * `gpux runtime install | ls | rm` against a local package server (npm registry + NuGet feed) serving
 * synthetic packages with dummy provider libraries: download, resume, hash refusal, unpacking, placement,
 * and what doctor / `--provider cuda` then say about the dummy library (the dynamic loader's real message).
 */
import { assert, assertEquals, assertMatch, assertRejects, assertStringIncludes } from "./support/assert.ts";
import { type CliResult, runCli } from "./support/cli.ts";
import { identityModel, writeModel } from "./support/onnx_builder.ts";
import {
  buildTgz,
  buildZip,
  dummyLibrary,
  sha256,
  startPackageServer,
  syntheticNpmPackage,
  syntheticNupkg,
} from "./support/package_server.ts";
import { installProvider, removeProvider } from "../src/runtime_install/install_provider.ts";
import { CUDA_PACKAGES, parseIntegrity, type ProviderPackage } from "../src/runtime_install/provider_packages.ts";
import { extractTarGz, extractZip } from "../src/runtime_install/archive.ts";
import { listRuntimeFolders, ORT_VERSION, RUNTIME_MANIFEST } from "../src/runtime/runtime_folder.ts";
import { envFrom } from "../src/environment.ts";
import { cudaRuntimesPresent } from "../src/runtime/gpu_presence.ts";
import { IntegrityError, NotFoundError } from "../src/errors.ts";

const NPM_NAME = CUDA_PACKAGES[13].name;
const NPM_VERSION = CUDA_PACKAGES[13].version;
const NUGET_ID = CUDA_PACKAGES[12].name;
const FOLDER13 = `onnxruntime-${ORT_VERSION}-linux-x64-cuda13`;
const FOLDER12 = `onnxruntime-${ORT_VERSION}-linux-x64-cuda12`;
const onLinuxX64 = Deno.build.os === "linux" && Deno.build.arch === "x86_64";

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "gpux-home-" });
  try {
    await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

function json(result: CliResult): Record<string, unknown> {
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

/** The synthetic npm package with its own hash pinned in place of the real one. */
function pinnedTo(tarball: Uint8Array, sha?: string): Record<number, ProviderPackage> {
  return {
    ...CUDA_PACKAGES,
    13: { ...CUDA_PACKAGES[13], pinned: { sha256: sha ?? sha256(tarball), size: tarball.length } },
  };
}

Deno.test("archives: only the named files come out of a .tgz (pax long names too) and a zip", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const long = `package/${"deep/".repeat(25)}libx.so`;
    const tgz = `${dir}/p.tgz`;
    await Deno.writeFile(tgz, await buildTgz({ "package/a.so": dummyLibrary("a"), [long]: dummyLibrary("x") }));
    const taken = await extractTarGz(tgz, (e) => e.endsWith("libx.so") ? "libx.so" : undefined, dir);
    assertEquals(taken.map((t) => t.entry), [long]);
    assertEquals(await Deno.readFile(`${dir}/libx.so`), dummyLibrary("x"));
    const zip = `${dir}/p.zip`;
    await Deno.writeFile(zip, await buildZip({ "a/b.so": dummyLibrary("b"), "c.txt": new Uint8Array(3) }));
    const fromZip = await extractZip(zip, (e) => e === "a/b.so" ? "b.so" : undefined, dir);
    assertEquals(fromZip.map((t) => [t.entry, t.size]), [["a/b.so", dummyLibrary("b").length]]);
    assertEquals(await Deno.readFile(`${dir}/b.so`), dummyLibrary("b"));
    // a truncated archive is an integrity error, not a crash
    await Deno.writeFile(tgz, (await Deno.readFile(tgz)).subarray(0, 40));
    await assertRejects(() => extractTarGz(tgz, () => "x", dir), IntegrityError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("integrity strings: sha512-/sha256- base64 to hex; garbage refused", () => {
  assertEquals(parseIntegrity(CUDA_PACKAGES[13].pinned!.integrity!)?.kind, "sha512");
  assertEquals(parseIntegrity(CUDA_PACKAGES[13].pinned!.integrity!)?.hex.length, 128);
  assertEquals(parseIntegrity("sha1-abc"), undefined);
  assertEquals(parseIntegrity("sha512-AAAA"), undefined); // wrong length
});

Deno.test({
  name: "install from npm: a body cut mid-transfer resumes with Range; only the provider libraries are placed",
  ignore: !onLinuxX64,
  fn: async () => {
    const tarball = await syntheticNpmPackage();
    const server = startPackageServer({ npm: [{ name: NPM_NAME, version: NPM_VERSION, tarball }] });
    try {
      await withHome(async (home) => {
        const file = `/npm/${NPM_NAME}/-/${NPM_NAME}-${NPM_VERSION}.tgz`;
        const cut = Math.floor(tarball.length / 2);
        server.cutNext.set(file, cut);
        const events: string[] = [];
        const result = await installProvider("cuda", {
          cuda: 13,
          env: envFrom({ GPUX_HOME: home, GPUX_NPM_REGISTRY: server.npmUrl }),
          packages: pinnedTo(tarball),
          retry: { baseDelayMs: 1 },
          onProgress: (e) => events.push(e.type),
        });
        const downloads = server.requests.filter((r) => r.path === file && r.method === "GET");
        assertEquals(downloads.map((r) => r.range), [null, `bytes=${cut}-`], "resumed from the byte where it was cut");
        assert(events.includes("plan") && events.includes("retry") && events.includes("file-done"), events.join());
        assertEquals(result.folder, `${home}/runtime/${FOLDER13}`);
        assertEquals(result.alreadyInstalled, false);
        const names = [...Deno.readDirSync(result.folder)].map((e) => e.name).sort();
        assertEquals(names, [
          RUNTIME_MANIFEST,
          "libonnxruntime.so.1",
          "libonnxruntime_providers_cuda.so",
          "libonnxruntime_providers_shared.so",
        ]);
        assertEquals(await Deno.readFile(`${result.folder}/libonnxruntime_providers_cuda.so`), dummyLibrary("cuda"));
        assertEquals(result.manifest.source.sha256, sha256(tarball));
        assertEquals(result.manifest.files.map((f) => f.sha256), [
          sha256(dummyLibrary("cuda")),
          sha256(dummyLibrary("shared")),
        ]);
        // the downloaded package is not kept; nothing half-made is left in runtime/
        assertEquals([...Deno.readDirSync(`${home}/downloads`)].length, 0);
        assertEquals([...Deno.readDirSync(`${home}/runtime`)].map((e) => e.name), [FOLDER13]);
        // installed again: nothing to do; --force replaces it
        const again = await installProvider("cuda", {
          cuda: 13,
          env: envFrom({ GPUX_HOME: home, GPUX_NPM_REGISTRY: server.npmUrl }),
          packages: pinnedTo(tarball),
        });
        assertEquals(again.alreadyInstalled, true);
        assertEquals(listRuntimeFolders(envFrom({ GPUX_HOME: home })).map((f) => [f.spec.cuda, f.problem]), [[
          13,
          undefined,
        ]]);
        assertEquals(await removeProvider("cuda", { env: envFrom({ GPUX_HOME: home }) }), [result.folder]);
        await assertRejects(() => removeProvider("cuda", { env: envFrom({ GPUX_HOME: home }) }), NotFoundError);
      });
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "install from npm: a package whose sha256 is not the pinned one is refused and nothing is installed",
  ignore: !onLinuxX64,
  fn: async () => {
    const tarball = await syntheticNpmPackage();
    const server = startPackageServer({ npm: [{ name: NPM_NAME, version: NPM_VERSION, tarball }] });
    try {
      await withHome(async (home) => {
        const error = await assertRejects(
          () =>
            installProvider("cuda", {
              cuda: 13,
              env: envFrom({ GPUX_HOME: home, GPUX_NPM_REGISTRY: server.npmUrl }),
              packages: pinnedTo(tarball, "0".repeat(64)),
            }),
          IntegrityError,
        );
        assertMatch(error.message, /sha256 is [0-9a-f]{64}, expected 0{64}/);
        assertEquals(listRuntimeFolders(envFrom({ GPUX_HOME: home })), []);
      });
    } finally {
      await server.close();
    }
  },
});

const model = await Deno.makeTempFile({ suffix: ".onnx" });
await writeModel(model, identityModel("float32", [1]));

Deno.test({
  name:
    "gpux runtime install cuda --cuda 12 (NuGet), runtime ls, doctor and --provider cuda name the loader's real reason, rm",
  ignore: !onLinuxX64,
  fn: async () => {
    const nupkg = await syntheticNupkg();
    const server = startPackageServer({ nuget: [{ id: NUGET_ID, version: ORT_VERSION, nupkg }] });
    try {
      await withHome(async (home) => {
        const env = { GPUX_HOME: home, GPUX_NUGET_URL: server.nugetUrl, HF_HOME: `${home}/hf` };
        const install = await runCli(["runtime", "install", "cuda", "--cuda", "12", "--json"], { env });
        assertEquals(install.code, 0, install.stderr);
        const doc = json(install);
        const folder = `${home}/runtime/${FOLDER12}`;
        assertEquals(doc.folder, folder);
        const manifest = doc.manifest as { source: { kind: string; integrity: string }; files: { name: string }[] };
        assertEquals(manifest.source.kind, "nuget");
        assertMatch(manifest.source.integrity, /^sha512-/);
        assertEquals(manifest.files.map((f) => f.name), [
          "libonnxruntime_providers_cuda.so",
          "libonnxruntime_providers_shared.so",
        ]);
        assertEquals(await Deno.readFile(`${folder}/libonnxruntime_providers_cuda.so`), dummyLibrary("cuda 12"));

        // runtime ls: onnxruntime loads from the folder; cuda is installed but does not load, and says why
        const ls = await runCli(["runtime", "ls", "--json"], { env });
        assertEquals(ls.code, 0, ls.stderr);
        const listing = json(ls);
        assertEquals(listing.loadedLibrary, `${folder}/libonnxruntime.so.1`);
        const cuda = (listing.providers as { name: string; installed: boolean; loadable: boolean; reason: string }[])
          .find((p) => p.name === "cuda")!;
        assertEquals([cuda.installed, cuda.loadable], [true, false]);
        assertStringIncludes(cuda.reason, `${folder}/libonnxruntime_providers_cuda.so`);
        assertMatch(cuda.reason, /invalid ELF header|file too short/);
        assertEquals((listing.installed as { cuda: number }[]).map((i) => i.cuda), [12]);
        const quiet = await runCli(["runtime", "ls", "-q"], { env });
        assertEquals([quiet.code, quiet.stderr], [0, ""]);
        assertMatch(quiet.stdout, /cuda\s+yes\s+no\s+the cuda provider library failed to load/);

        const doctor = await runCli(["doctor", "--json"], { env });
        const cudaProbe = (json(doctor).providers as { name: string; reason: string }[]).find((p) =>
          p.name === "cuda"
        )!;
        assertMatch(cudaProbe.reason, /invalid ELF header|file too short/);

        const run = await runCli(["run", model, "--provider", "cuda", "--input", '{"x": [1]}'], { env });
        assertEquals(run.code, 7, run.stderr);
        assertMatch(run.stderr, /error: execution provider cuda failed to load: .*(invalid ELF header|file too short)/);

        // auto on this GPU-less machine falls back to cpu without a warning
        const auto = await runCli(["run", model, "--input", '{"x": [1]}'], { env });
        assertEquals(auto.code, 0, auto.stderr);
        assertEquals(auto.stderr.includes("warning"), false, auto.stderr);

        const rm = await runCli(["runtime", "rm", "cuda"], { env });
        assertEquals(rm.code, 0, rm.stderr);
        assertEquals(rm.stdout, `removed ${folder}\n`);
        const after = json(await runCli(["runtime", "ls", "--json"], { env }));
        assertEquals(after.installed, []);
        assertEquals(after.runtimeFolder, null);
        assertEquals((await runCli(["runtime", "rm", "cuda"], { env })).code, 3);
      });
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "gpux runtime install cuda --cuda 13: the registry's package is not the pinned one → exit 6, nothing placed",
  ignore: !onLinuxX64,
  fn: async () => {
    const tarball = await syntheticNpmPackage();
    // the registry publishes the real package's integrity but serves other bytes
    const server = startPackageServer({
      npm: [{ name: NPM_NAME, version: NPM_VERSION, tarball, integrity: CUDA_PACKAGES[13].pinned!.integrity }],
    });
    try {
      await withHome(async (home) => {
        const env = { GPUX_HOME: home, GPUX_NPM_REGISTRY: server.npmUrl, HF_HOME: `${home}/hf` };
        const r = await runCli(["runtime", "install", "cuda", "--cuda", "13", "-q"], { env });
        assertEquals(r.code, 6, r.stderr);
        assertMatch(r.stderr, /error: .* serves \d+ bytes .* pinned package has 179145956/);
        assertEquals(listRuntimeFolders(envFrom({ GPUX_HOME: home })), []);
      });
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "gpux runtime install cuda --from a local folder; without --cuda and no CUDA here it asks which",
  ignore: !onLinuxX64,
  fn: async () => {
    await withHome(async (home) => {
      const src = `${home}/src/lib`;
      await Deno.mkdir(src, { recursive: true });
      await Deno.writeFile(`${src}/libonnxruntime_providers_cuda.so`, dummyLibrary("local cuda"));
      await Deno.writeFile(`${src}/libonnxruntime_providers_shared.so`, dummyLibrary("local shared"));
      const env = { GPUX_HOME: home, HF_HOME: `${home}/hf`, INIT_CWD: home };
      if (cudaRuntimesPresent().length === 0) {
        const noCuda = await runCli(["runtime", "install", "cuda", "--from", `${home}/src`], { env });
        assertEquals(noCuda.code, 2, noCuda.stderr);
        assertMatch(noCuda.stderr, /no CUDA runtime found here.*\nhint: say which: --cuda 13 or --cuda 12/);
      }
      const r = await runCli(["runtime", "install", "cuda", "--cuda", "13", "--from", `${home}/src`], { env });
      assertEquals(r.code, 0, r.stderr);
      assertMatch(r.stdout, /installed cuda \(CUDA 13\) from local .* into .*cuda13/);
      const ls = await runCli(["runtime", "ls"], { env });
      assertEquals(ls.code, 0, ls.stderr);
      assertMatch(ls.stdout, /cuda \(CUDA 13\)\s+local /);
    });
  },
});

Deno.test("doctor's to-do: with a GPU present, the missing CUDA provider names `gpux runtime install cuda`; without one, nothing", async () => {
  const { providerActions } = await import("../src/cli/doctor.ts");
  const { explainProviderFailure } = await import("../src/runtime/providers.ts");
  const dir = await Deno.makeTempDir(); // an onnxruntime folder without provider libraries
  try {
    const failure = explainProviderFailure("cuda", new Error("Failed to load shared library"), {
      binaryDir: dir,
      platform: { os: "linux", arch: "x86_64" },
    });
    const probes = [
      { provider: "cuda" as const, available: false, ms: 1, reason: failure.reason, hint: failure.hint },
      { provider: "cpu" as const, available: true, ms: 1 },
    ];
    const withGpu = providerActions(["cuda", "cpu"], probes, { present: true, evidence: ["/dev/nvidiactl"] });
    assertEquals(withGpu.length, 1);
    assertMatch(withGpu[0], /^cuda: CUDA execution provider not installed: .* → run `gpux runtime install cuda`/);
    assertEquals(providerActions(["cuda", "cpu"], probes, { present: false, evidence: [] }), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task gpux's sandbox: runtime install writes GPUX_HOME and reaches the configured package hosts", async () => {
  const { commandSandbox } = await import("../src/cli/sandbox.ts");
  const sandbox = (env: Record<string, string>) =>
    commandSandbox(["runtime", "install", "cuda"], { env: envFrom(env), cwd: "/" });
  const flags = sandbox({
    HOME: "/h",
    GPUX_HOME: "/g",
    GPUX_NPM_REGISTRY: "http://npm.mirror.example:8080/",
    GPUX_NUGET_URL: "https://nuget.mirror.example/v3/index.json",
  });
  assertEquals(flags.write, ["/g"]);
  assert(flags.net.includes("npm.mirror.example:8080") && flags.net.includes("nuget.mirror.example"));
  const defaults = sandbox({ HOME: "/h" });
  assertEquals(defaults.write, ["/h/.gpux"]);
  assert(defaults.net.includes("registry.npmjs.org") && defaults.net.includes("api.nuget.org"));
});

Deno.test({
  name: "install: a complete package left in downloads/ by an earlier run is verified and reused, not fetched again",
  ignore: !onLinuxX64,
  fn: async () => {
    const tarball = await syntheticNpmPackage();
    const server = startPackageServer({ npm: [{ name: NPM_NAME, version: NPM_VERSION, tarball }] });
    try {
      await withHome(async (home) => {
        await Deno.mkdir(`${home}/downloads`);
        await Deno.writeFile(`${home}/downloads/${NPM_NAME}-${NPM_VERSION}.tgz`, tarball);
        const result = await installProvider("cuda", {
          cuda: 13,
          env: envFrom({ GPUX_HOME: home, GPUX_NPM_REGISTRY: server.npmUrl }),
          packages: pinnedTo(tarball),
        });
        assertEquals([result.bytesDownloaded, result.resumedFrom], [0, tarball.length]);
        assertEquals(server.requests.filter((r) => r.method === "GET" && r.path.endsWith(".tgz")), []);
        assertEquals(
          await Deno.readFile(`${result.folder}/libonnxruntime_providers_shared.so`),
          dummyLibrary("shared"),
        );
      });
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "gpux runtime install where GPUX_HOME may not be written: exit 6 naming the folder, not an unexpected failure",
  ignore: !onLinuxX64,
  fn: async () => {
    await withHome(async (home) => {
      await Deno.writeFile(`${home}/libonnxruntime_providers_cuda.so`, dummyLibrary("cuda"));
      await Deno.writeFile(`${home}/libonnxruntime_providers_shared.so`, dummyLibrary("shared"));
      const r = await runCli(["runtime", "install", "cuda", "--cuda", "13", "--from", home], {
        env: { GPUX_HOME: `${home}/state` },
        permissions: [
          "--no-prompt",
          "--allow-env",
          "--allow-read",
          "--allow-ffi",
          "--allow-sys",
          `--allow-write=${home}/x`,
        ],
      });
      assertEquals(r.code, 6, r.stderr);
      assertMatch(r.stderr, new RegExp(`error: cannot write to ${home}/state/runtime`));
    });
  },
});

Deno.test({
  name: "install from npm: a registry publishing another integrity than the pinned one is refused before downloading",
  ignore: !onLinuxX64,
  fn: async () => {
    const tarball = await syntheticNpmPackage();
    const server = startPackageServer({ npm: [{ name: NPM_NAME, version: NPM_VERSION, tarball }] }); // its own integrity
    try {
      await withHome(async (home) => {
        const packages = {
          ...CUDA_PACKAGES,
          13: { ...CUDA_PACKAGES[13], pinned: { ...CUDA_PACKAGES[13].pinned!, size: tarball.length } },
        };
        const error = await assertRejects(
          () =>
            installProvider("cuda", {
              cuda: 13,
              env: envFrom({ GPUX_HOME: home, GPUX_NPM_REGISTRY: server.npmUrl }),
              packages,
            }),
          IntegrityError,
        );
        assertMatch(error.message, /publishes integrity sha512-.* not the sha512-FopIhNE/);
        assertEquals(server.requests.filter((r) => r.path.endsWith(".tgz")), []);
      });
    } finally {
      await server.close();
    }
  },
});
