/**
 * Every documented form of `gpux serve`'s model arguments (README, "Serve": Hub ids with and without a revision,
 * relative, bare and absolute `.onnx` paths, folders, gpux.yml files, and `NAME=` before each of them) served by
 * `deno task gpux serve` under its real per-command sandbox — the sandbox must grant exactly the path after `NAME=`.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { running, startServe } from "./support/serve_process.ts";
import { identityModel, writeModel } from "./support/onnx_builder.ts";
import { CacheFixture, commitSha } from "./support/hf_cache.ts";
import { commandSandbox } from "../src/cli/sandbox.ts";
import { envFrom } from "../src/environment.ts";

Deno.test("serve sandbox: NAME=MODEL grants the MODEL path exactly, not the whole argument", () => {
  const sandbox = commandSandbox(["serve", "cls=./models/classifier", "m=./a=b.onnx", "./c=d/x.onnx", "--port", "0"], {
    env: envFrom({ HOME: "/home/me" }),
    cwd: "/w",
  });
  assert(sandbox.read.includes("/w/models/classifier"), sandbox.read.join(" "));
  assert(!sandbox.read.includes("/w/cls=./models/classifier") && !sandbox.read.includes("/w/cls=/models/classifier"));
  assert(sandbox.read.includes("/w/a=b.onnx") && sandbox.read.includes("/w"), sandbox.read.join(" "));
  // a name with a '/' (or a leading '.') is no name: the whole argument is the path, as serve reads it
  assert(sandbox.read.includes("/w/c=d/x.onnx"), sandbox.read.join(" "));
});

Deno.test("serve sandbox: every documented model argument form is served under deno task gpux's own sandbox", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux_serve_forms_" });
  try {
    const model = () => identityModel("float32", ["batch", 3]);
    for (const folder of ["models/classifier", "models/folder", "models/yml", "models/yml2", "x"]) {
      await Deno.mkdir(`${dir}/${folder}`, { recursive: true });
    }
    await writeModel(`${dir}/resnet50.onnx`, model());
    await writeModel(`${dir}/plain.onnx`, model());
    await writeModel(`${dir}/absolute.onnx`, model());
    await writeModel(`${dir}/x/y.onnx`, model());
    await writeModel(`${dir}/models/classifier/model.onnx`, model());
    await writeModel(`${dir}/models/folder/model.onnx`, model());
    await writeModel(`${dir}/models/yml/model.onnx`, model());
    await writeModel(`${dir}/models/yml2/model.onnx`, model());
    await Deno.writeTextFile(`${dir}/models/yml/gpux.yml`, "name: from-yml\nmodel:\n  source: ./model.onnx\n");
    await Deno.writeTextFile(`${dir}/models/yml2/gpux.yml`, "name: yml2\nmodel:\n  source: ./model.onnx\n");
    const cache = new CacheFixture(`${dir}/hub`, "acme-ai/sentiment-tiny");
    const sha = commitSha("sentiment");
    await cache.addRevision(sha, { "model.onnx": { content: await Deno.readFile(`${dir}/plain.onnx`), lfs: true } });
    await cache.setRef("main", sha);
    // the environment of a user who starts `deno task gpux` in `dir`
    const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, GPUX_HOME: `${dir}/gpux`, INIT_CWD: dir };
    const forms: [string, string][] = [
      ["acme-ai/sentiment-tiny", "sentiment-tiny"], // a cached Hub id
      [`hub-rev=acme-ai/sentiment-tiny@${sha}`, "hub-rev"], // NAME=Hub id@revision
      ["sentiment=acme-ai/sentiment-tiny", "sentiment"], // NAME=Hub id (the duplicate-name hint's form)
      ["./resnet50.onnx", "resnet50"], // a relative .onnx path
      ["plain.onnx", "plain"], // a bare file name
      [`${dir}/absolute.onnx`, "absolute"], // an absolute path
      ["./models/folder", "folder"], // a folder with one .onnx
      ["cls=./models/classifier", "cls"], // README's NAME=folder example
      ["./models/yml/gpux.yml", "from-yml"], // a gpux.yml
      ["conf=models/yml2/gpux.yml", "conf"], // NAME=gpux.yml
      ["other-name=./x/y.onnx", "other-name"], // NAME=.onnx path
    ];
    // one server per form: a form served beside another could ride on the other's grant (`plain.onnx` grants its folder)
    const serveOne = async ([arg, name]: [string, string]) => {
      const server = running(
        await startServe([arg, "--port", "0", "--workers", "1", "--max-batch", "1"], { env, sandbox: "exact" }),
      );
      try {
        const response = await fetch(`${server.url}/models/${name}/predict`, {
          method: "POST",
          body: JSON.stringify({ x: [[1, 2, 3]] }),
        });
        const body = await response.json();
        assertEquals(response.status, 200, `${arg}: ${JSON.stringify(body)}`);
      } finally {
        assertEquals(await server.stop("SIGTERM"), 0, `${arg}: ${server.stderr()}`);
      }
    };
    for (let i = 0; i < forms.length; i += 2) await Promise.all(forms.slice(i, i + 2).map(serveOne));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
