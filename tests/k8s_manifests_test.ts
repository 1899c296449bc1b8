/**
 * The Kubernetes manifests under deploy/kubernetes/ against the Kubernetes API schema, as `kubernetes-models` (the
 * OpenAPI models of Kubernetes, generated from its published spec) validates them: types, enums, required fields.
 * The schema allows fields it does not name (the API server's strict field validation refuses them), so each manifest
 * is also type-checked as a typed object literal, where TypeScript refuses any field the models do not declare.
 *
 * KServe's `InferenceService` CRD schema is not on npm: its predictor is checked as what KServe makes of it, a Pod
 * (KServe's own component fields taken out and listed here), plus the fields KServe adds.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes, assertThrows } from "./support/assert.ts";
import { parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Service } from "kubernetes-models/v1/Service";
import { Pod } from "kubernetes-models/v1/Pod";

const ROOT = new URL("..", import.meta.url).pathname;
const DEPLOY = `${ROOT}deploy/kubernetes`;

// deno-lint-ignore no-explicit-any
type Manifest = Record<string, any>;

async function manifests(file: string): Promise<Manifest[]> {
  const docs = parseAllDocuments(await Deno.readTextFile(`${DEPLOY}/${file}`));
  for (const doc of docs) if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
  return docs.map((doc) => doc.toJS()).filter(Boolean);
}

/**
 * The fields KServe's v1beta1 `PredictorSpec` adds to the Pod spec it embeds (ComponentExtensionSpec and the model
 * framework slots), from KServe's API reference.
 */
const KSERVE_PREDICTOR_FIELDS = [
  "minReplicas",
  "maxReplicas",
  "scaleTarget",
  "scaleMetric",
  "scaleMetricType",
  "autoScaling",
  "containerConcurrency",
  "timeout",
  "canaryTrafficPercent",
  "logger",
  "batcher",
  "labels",
  "annotations",
  "deploymentStrategy",
  "workerSpec",
  "model",
  "storageUri",
];

/** The Pod KServe makes of an InferenceService's predictor: its metadata, and the predictor without KServe's fields. */
function predictorPod(isvc: Manifest): Manifest {
  const spec = Object.fromEntries(
    Object.entries(isvc.spec.predictor).filter(([k]) => !KSERVE_PREDICTOR_FIELDS.includes(k)),
  );
  return { apiVersion: "v1", kind: "Pod", metadata: isvc.metadata, spec };
}

/** Validates with the model class for its kind; throws with the schema's message. */
function validate(doc: Manifest): void {
  const Model = { Deployment, Service, Pod }[doc.kind as string];
  if (!Model) throw new Error(`no model for ${doc.apiVersion} ${doc.kind}`);
  // deno-lint-ignore no-explicit-any
  new (Model as any)(doc).validate();
}

/**
 * Type-checks `docs` as object literals of the models' interfaces (`deno check`): an undeclared field is an error.
 * Returns deno's diagnostics, or "" when they type-check.
 */
async function strictFieldErrors(docs: Manifest[]): Promise<string> {
  const types: Record<string, [string, string]> = {
    Deployment: ["IDeployment", "kubernetes-models/apps/v1/Deployment"],
    Service: ["IService", "kubernetes-models/v1/Service"],
    Pod: ["IPod", "kubernetes-models/v1/Pod"],
  };
  const used = [...new Set(docs.map((d) => d.kind as string))];
  const source = [
    ...used.map((kind) => `import type { ${types[kind][0]} } from "${types[kind][1]}";`),
    ...docs.map((doc, i) => `export const doc${i}: ${types[doc.kind][0]} = ${JSON.stringify(doc, null, 2)};`),
  ].join("\n");
  const file = await Deno.makeTempFile({ prefix: "gpux-k8s-strict-", suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, source);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", `--config=${ROOT}deno.json`, file],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return out.code === 0 ? "" : new TextDecoder().decode(out.stderr);
  } finally {
    await Deno.remove(file);
  }
}

function container(spec: Manifest, name: string): Manifest {
  const found = [...(spec.initContainers ?? []), ...spec.containers].find((c: Manifest) => c.name === name);
  assert(found, `no container ${name}`);
  return found;
}

/** The Containerfile's user id and HF_HOME, which the manifests must agree with. */
async function imageFacts(): Promise<{ uid: number; hfHome: string; port: number }> {
  const text = await Deno.readTextFile(`${ROOT}Containerfile`);
  return {
    uid: Number(text.match(/^ARG UID=(\d+)$/m)![1]),
    hfHome: text.match(/HF_HOME=(\S+)/)![1],
    port: Number(text.match(/^EXPOSE (\d+)$/m)![1]),
  };
}

Deno.test("deploy/kubernetes/gpux.yaml: a Deployment and a Service that validate against the Kubernetes schema, field names included", async () => {
  const docs = await manifests("gpux.yaml");
  assertEquals(docs.map((d) => `${d.apiVersion} ${d.kind}`), ["apps/v1 Deployment", "v1 Service"]);
  for (const doc of docs) validate(doc);
  assertEquals(await strictFieldErrors(docs), "");

  const [deployment, service] = docs;
  const pod = deployment.spec.template.spec;
  const facts = await imageFacts();
  assertEquals([pod.securityContext.runAsUser, pod.securityContext.fsGroup], [facts.uid, facts.uid]);
  const pull = container(pod, "pull"), serve = container(pod, "serve");
  assertEquals(pull.command.slice(0, 2), ["gpux", "pull"]);
  assertEquals(serve.command, undefined, "the server is the image's entry point");
  assertEquals(serve.args[0], pull.command[2], "it serves the model the init container pulled");
  for (const c of [pull, serve]) {
    assertEquals(c.image, "gpux:latest");
    assertEquals(c.volumeMounts, [{ name: "hf-cache", mountPath: facts.hfHome }]);
  }
  assertEquals(serve.readinessProbe.httpGet.path, "/v2/health/ready");
  assertEquals(serve.startupProbe.httpGet.path, "/v2/health/ready");
  assertEquals(serve.livenessProbe.httpGet.path, "/v2/health/live");
  const port = serve.ports.find((p: Manifest) => p.name === serve.readinessProbe.httpGet.port);
  assertEquals(port.containerPort, facts.port);
  assertEquals(serve.env.find((e: Manifest) => e.name === "PORT").value, String(facts.port));
  assertEquals(service.spec.selector, deployment.spec.selector.matchLabels);
  assertEquals(service.spec.selector, deployment.spec.template.metadata.labels);
  assertEquals(service.spec.ports[0].targetPort, port.name);
});

Deno.test("deploy/kubernetes/kserve.yaml: an InferenceService whose predictor is a valid Pod spec on the same image", async () => {
  const [isvc] = await manifests("kserve.yaml");
  assertEquals([isvc.apiVersion, isvc.kind], ["serving.kserve.io/v1beta1", "InferenceService"]);
  assertMatch(isvc.metadata.name, /^[a-z]([-a-z0-9]*[a-z0-9])?$/); // a DNS-1035 label, as KServe requires
  const pod = predictorPod(isvc);
  validate(pod);
  assertEquals(await strictFieldErrors([pod]), "");
  for (const field of Object.keys(isvc.spec.predictor)) {
    assert(field in pod.spec || KSERVE_PREDICTOR_FIELDS.includes(field), field);
  }
  assert(isvc.spec.predictor.minReplicas <= isvc.spec.predictor.maxReplicas);

  const facts = await imageFacts();
  const serve = container(pod.spec, "kserve-container"); // the name KServe gives its predictor container
  const pull = container(pod.spec, "pull");
  assertEquals([serve.image, pull.image], ["gpux:latest", "gpux:latest"]);
  assertEquals(serve.args[0], pull.command[2]);
  assertEquals(serve.ports, [{ containerPort: facts.port, protocol: "TCP" }]);
  assertEquals(serve.env.find((e: Manifest) => e.name === "PROTOCOL").value, "v2");
  assertEquals(serve.readinessProbe.httpGet, { path: "/v2/health/ready", port: facts.port });
});

Deno.test("the manifest checks fail on a wrong type and on a misspelt field", async () => {
  const [deployment] = await manifests("gpux.yaml");
  const typed = structuredClone(deployment);
  typed.spec.template.spec.containers[0].ports[0].containerPort = "eighty";
  assertThrows(() => validate(typed), Error, "containerPort must be integer");

  const misspelt = structuredClone(deployment);
  misspelt.spec.template.spec.containers[0].readinesProbe = misspelt.spec.template.spec.containers[0].readinessProbe;
  delete misspelt.spec.template.spec.containers[0].readinessProbe;
  validate(misspelt); // the schema alone lets it through
  assertStringIncludes(await strictFieldErrors([misspelt]), "readinesProbe");
});

Deno.test("docs/serve.md shows deploy/kubernetes/gpux.yaml as it is", async () => {
  const page = await Deno.readTextFile(`${ROOT}docs/serve.md`);
  const block = page.split("<!-- deploy/kubernetes/gpux.yaml -->\n```yaml\n")[1]?.split("```")[0];
  assertEquals(block, await Deno.readTextFile(`${DEPLOY}/gpux.yaml`));
});
