/**
 * The container image, built and run as its users do: `deno task container` builds the repository's Containerfile on
 * a Debian bookworm base made here with mmdebstrap (no image registry can be reached), then the image answers
 * `gpux --version`, and its entry point serves a model that the host's `deno task gpux pull` put into a cache mounted
 * at the image's `HF_HOME` volume: a KServe v2 request from outside the container gets the model's numbers, the image's
 * own HEALTHCHECK passes while it serves, and SIGTERM (what `docker stop` and Kubernetes send) drains it to exit 0.
 *
 * The Kubernetes init container's `gpux pull` command (deploy/kubernetes/gpux.yaml) is run in the image too, against
 * the local hub.
 *
 * Containers run with `buildah run --isolation chroot`, which shares the host's network (podman cannot run here:
 * `setrlimit RLIMIT_NPROC` is refused). Skipped, saying so, where buildah is not installed. Costs: the base once
 * (~20 s, cached in tests/.fixtures/container/), the image cold (a few minutes: apt and npm) or warm (seconds: every
 * layer cached), then ~15 s of running.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { withCliHub } from "./support/cli_hub.ts";
import { buildModel, f32Bytes } from "./support/onnx_builder.ts";
import { running, type ServeProcess, watchServe } from "./support/serve_process.ts";
import { VERSION } from "../src/version.ts";
import { parse } from "yaml";

const ROOT = new URL("..", import.meta.url).pathname;
const FIXTURES = `${ROOT}tests/.fixtures/container`;
/** The base image: a minimal Debian bookworm root filesystem, imported under this name. */
const BASE = "localhost/gpux-test-base:bookworm";
const IMAGE = "localhost/gpux:latest";

function onPath(tool: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
    try {
      return Deno.statSync(`${dir}/${tool}`).isFile;
    } catch {
      return false;
    }
  });
}

const buildahMissing = !onPath("buildah");

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Output> {
  const out = await new Deno.Command(cmd, { args, env, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function ok(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const out = await run(cmd, args, env);
  if (out.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${out.code}:\n${out.stderr}${out.stdout}`);
  return out.stdout;
}

async function imageExists(name: string): Promise<boolean> {
  return (await run("buildah", ["inspect", "--type", "image", name])).code === 0;
}

/** The base image, from the cached root filesystem tarball (made with mmdebstrap on first use). */
async function ensureBase(): Promise<void> {
  if (await imageExists(BASE)) return;
  const tar = `${FIXTURES}/debian-bookworm-minbase.tar`;
  try {
    await Deno.stat(tar);
  } catch {
    if (!onPath("mmdebstrap")) throw new Error("the base image needs mmdebstrap: apt-get install -y mmdebstrap");
    await Deno.mkdir(FIXTURES, { recursive: true });
    await ok("mmdebstrap", ["--variant=minbase", "--include=ca-certificates", "bookworm", `${tar}.incomplete`]);
    await Deno.rename(`${tar}.incomplete`, tar);
  }
  const ctr = (await ok("buildah", ["from", "scratch"])).trim();
  try {
    await ok("buildah", ["add", ctr, tar, "/"]);
    await ok("buildah", ["commit", "--quiet", ctr, BASE]);
  } finally {
    await run("buildah", ["rm", ctr]);
  }
}

/** `deno task container --base BASE`, as a user runs it; how long it took. */
async function buildImage(): Promise<number> {
  const start = performance.now();
  const out = await run(Deno.execPath(), ["task", "-q", `--config=${ROOT}deno.json`, "container", "--base", BASE], {
    NO_COLOR: "1",
  });
  if (out.code !== 0) throw new Error(`deno task container exited ${out.code}:\n${out.stderr.slice(-4000)}`);
  return performance.now() - start;
}

interface ImageConfig {
  Entrypoint: string[];
  Cmd: string[] | null;
  Env: string[];
  User: string;
  Healthcheck?: { Test: string[] };
  Volumes?: Record<string, unknown>;
}

async function imageConfig(): Promise<ImageConfig> {
  return JSON.parse(await ok("buildah", ["inspect", "--type", "image", IMAGE])).Docker.config;
}

/** A fresh working container of the image (removed by the caller). */
async function container(): Promise<string> {
  return (await ok("buildah", ["from", "--pull-never", IMAGE])).trim();
}

/** `buildah run` flags: chroot isolation, `-v HOST:CONTAINER` mounts, `-e NAME=VALUE` variables. */
function runFlags(mounts: Record<string, string>, env: Record<string, string>): string[] {
  return [
    "--isolation",
    "chroot",
    ...Object.entries(mounts).flatMap(([host, inside]) => ["-v", `${host}:${inside}`]),
    ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
  ];
}

/** The processes whose parent is `pid` (this machine's /proc: chroot isolation shares the PID namespace). */
async function children(pid: number): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ")"
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) found.push(Number(entry.name));
    } catch { /* exited meanwhile */ }
  }
  return found;
}

/** Every process below `pid`, nearest first. */
async function descendants(pid: number): Promise<number[]> {
  const found: number[] = [];
  for (let level = [pid]; level.length;) {
    const next = (await Promise.all(level.map(children))).flat();
    found.push(...next);
    level = next;
  }
  return found;
}

/**
 * The container's first process (PID 1 under a container runtime): the first process below `buildah run` that is not
 * one of buildah's own helpers (`buildah-chroot-runtime`, `buildah-chroot-exec`). buildah does not pass signals on, so the
 * test sends them here, as `docker stop` does to PID 1.
 */
async function containerInit(buildahPid: number): Promise<number> {
  for (let i = 0; i < 100; i++) {
    let level = [buildahPid];
    while (level.length) {
      const next: number[] = [];
      for (const pid of level) {
        for (const child of await children(pid)) {
          // buildah's helpers run from a memfd copy of buildah: their comm is "memfd:…", their argv[0] their name
          const argv0 = (await Deno.readTextFile(`/proc/${child}/cmdline`).catch(() => "buildah")).split("\0")[0];
          if (!argv0.startsWith("buildah")) return child;
          next.push(child);
        }
      }
      level = next;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("no process found inside the container");
}

/** A port free on 127.0.0.1 now (the container shares this machine's network). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** y = 2·x + 1 over f32[batch, 3]: a model whose answer proves it ran. */
function affineModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: "x", dtype: "float32", shape: ["batch", 3] }],
    outputs: [{ name: "y", dtype: "float32", shape: ["batch", 3] }],
    initializers: [
      { name: "two", dtype: "float32", dims: [], data: f32Bytes([2]) },
      { name: "one", dtype: "float32", dims: [], data: f32Bytes([1]) },
    ],
    nodes: [
      { op: "Mul", inputs: ["x", "two"], outputs: ["twice"] },
      { op: "Add", inputs: ["twice", "one"], outputs: ["y"] },
    ],
  });
}

/** Opens the cache to the image's non-root user (the host pulled it as this test's user). */
async function shareWithContainerUser(dir: string): Promise<void> {
  await ok("chmod", ["-R", "a+rwX", dir]);
}

/** The model the Kubernetes manifests serve (a local repository of that name stands in for it here). */
const K8S_MODEL = "acme-ai/sentiment-tiny";

interface K8sContainer {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
}

async function deployment(): Promise<{ init: K8sContainer; serve: K8sContainer }> {
  const docs = (await Deno.readTextFile(`${ROOT}deploy/kubernetes/gpux.yaml`)).split(/^---$/m).map((d) => parse(d));
  const spec = docs.find((d) => d?.kind === "Deployment").spec.template.spec;
  return { init: spec.initContainers[0], serve: spec.containers[0] };
}

Deno.test({
  name:
    "container: deno task container builds the image; gpux --version; gpux serve answers KServe v2 from a mounted cache; " +
    "HEALTHCHECK; SIGTERM drains to 0",
  ignore: buildahMissing &&
    (console.warn("skipped: buildah is not installed (apt-get install -y buildah mmdebstrap)"), true),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await ensureBase();
    const ms = await buildImage();
    console.log(`deno task container: ${(ms / 1000).toFixed(1)} s`);

    const config = await imageConfig();
    assertEquals(config.User, "gpux");
    assert(config.Env.includes("HF_HOME=/data/huggingface"), config.Env.join(" "));
    assert(config.Volumes && "/data/huggingface" in config.Volumes, "HF_HOME is a volume");
    assert(config.Healthcheck, "the image keeps its HEALTHCHECK (Docker format)");

    const ctr = await container();
    const healthCtr = await container();
    try {
      await t.step("gpux --version, as the image's non-root user", async () => {
        assertEquals(
          await ok("buildah", ["run", "--isolation", "chroot", ctr, "--", "gpux", "--version"]),
          `${VERSION}\n`,
        );
        assertEquals(await ok("buildah", ["run", "--isolation", "chroot", ctr, "--", "id", "-un"]), "gpux\n");
      });

      await withCliHub("gpux-container-", async (f) => {
        const sha = f.hub.addRepo("acme/affine").commit({ "config.json": "{}", "onnx/model.onnx": affineModel() });
        const home = `${f.dir}/hf-home`;
        const env = { ...f.env, HF_HOME: home, HF_HUB_CACHE: `${home}/hub` };

        await t.step("the host pulls into a cache; the image serves it from its HF_HOME volume", async () => {
          const pulled = await runCli(["pull", "acme/affine"], { env });
          assertEquals(pulled.code, 0, pulled.stderr);
          await shareWithContainerUser(home);

          const port = freePort();
          const entry = [...config.Entrypoint, ...(config.Cmd ?? [])];
          const child = new Deno.Command("buildah", {
            args: [
              "run",
              ...runFlags({ [home]: "/data/huggingface" }, { PORT: String(port), HF_HUB_OFFLINE: "1" }),
              ctr,
              "--",
              ...entry,
              "acme/affine",
              "--provider",
              "cpu",
            ],
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
          }).spawn();
          let server: ServeProcess | undefined;
          try {
            server = running(await watchServe(child));
            // bound on every interface inside the container, reached from outside on loopback
            assertMatch(server.ready, new RegExp(`ready on http://0\\.0\\.0\\.0:${port} · affine \\(cpu, `));
            const url = `http://127.0.0.1:${port}`;
            assertEquals((await fetch(`${url}/v2/health/ready`)).status, 200);
            const response = await fetch(`${url}/v2/models/affine/infer`, {
              method: "POST",
              body: JSON.stringify({
                inputs: [{ name: "x", shape: [2, 3], datatype: "FP32", data: [1, 2, 3, -1, 0, 0.5] }],
              }),
            });
            const answer = await response.json();
            assertEquals(response.status, 200, JSON.stringify(answer));
            assertEquals(answer.model_name, "affine");
            assertEquals(answer.model_version, sha);
            assertEquals(answer.outputs, [{ name: "y", datatype: "FP32", shape: [2, 3], data: [3, 5, 7, -1, 1, 2] }]);

            // the image's own HEALTHCHECK, run in the image beside the server, as a runtime does
            const health = config.Healthcheck!.Test;
            assertEquals(health[0], "CMD");
            const probe = (p: number) =>
              run("buildah", ["run", ...runFlags({}, { PORT: String(p) }), healthCtr, "--", ...health.slice(1)]);
            assertEquals((await probe(port)).code, 0, "healthy while serving");
            assertEquals((await probe(freePort())).code, 1, "unhealthy where nothing answers");

            // `docker stop`: SIGTERM to the container's first process (the launcher, which passes it on)
            Deno.kill(await containerInit(child.pid), "SIGTERM");
            const code = (await server.status).code;
            assertEquals(code, 0, server.stderr());
            server = undefined;
            const refused = await fetch(`${url}/v2/health/live`).then(() => false, () => true);
            assert(refused, "nothing listens after the stop");
          } finally {
            if (server) {
              for (const pid of await descendants(child.pid)) {
                try {
                  Deno.kill(pid, "SIGKILL");
                } catch { /* gone */ }
              }
              await server.status;
            }
          }
        });

        await t.step("the Kubernetes init container's gpux pull, in the image, fills an empty volume", async () => {
          f.hub.addRepo(K8S_MODEL).commit({ "config.json": "{}", "onnx/model.onnx": affineModel() });
          const { init, serve } = await deployment();
          const volume = `${f.dir}/volume`;
          await Deno.mkdir(volume);
          await shareWithContainerUser(volume);
          const manifestEnv = Object.fromEntries(
            (init.env ?? []).filter((e) => e.value).map((e) => [e.name, e.value!]),
          );
          const pulled = await run("buildah", [
            "run",
            // the manifest's variables, with the Hub replaced by the local one
            ...runFlags({ [volume]: "/data/huggingface" }, { ...manifestEnv, HF_ENDPOINT: f.hub.url }),
            ctr,
            "--",
            ...init.command!,
            ...(init.args ?? []),
          ]);
          assertEquals(pulled.code, 0, pulled.stderr);
          assertStringIncludes(pulled.stdout + pulled.stderr, K8S_MODEL);
          const snapshots = `${volume}/hub/models--acme-ai--sentiment-tiny/snapshots`;
          const [snapshot] = await Array.fromAsync(Deno.readDir(snapshots));
          assert((await Deno.stat(`${snapshots}/${snapshot.name}/onnx/model.onnx`)).size > 0);
          // the serving container names the same model, and uses the image's entry point
          assertEquals(serve.command, undefined);
          assertEquals(serve.args?.[0], K8S_MODEL);
        });
      });
    } finally {
      await run("buildah", ["rm", ctr, healthCtr]);
    }
  },
});

Deno.test("deno task container: a bad flag exits 2; no container tool on PATH exits 3 naming what to install", async () => {
  const task = (args: string[], env: Record<string, string> = {}) =>
    run(Deno.execPath(), ["task", "-q", `--config=${ROOT}deno.json`, "container", ...args], { NO_COLOR: "1", ...env });
  const bad = await task(["--bass", "x"]);
  assertEquals(bad.code, 2, bad.stderr);
  assertStringIncludes(bad.stderr, "unknown option --bass");
  const empty = await Deno.makeTempDir({ prefix: "gpux-no-tools-" });
  try {
    const none = await task([], { PATH: empty });
    assertEquals(none.code, 3, none.stderr);
    assertEquals(
      none.stderr,
      "error: no container tool found: install buildah, podman or docker\nhint: on Debian or Ubuntu: apt-get install -y buildah\n",
    );
  } finally {
    await Deno.remove(empty);
  }
});
