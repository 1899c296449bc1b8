/**
 * `deno task container [--base IMAGE] [--tag NAME] [-- TOOL ARGS…]`: builds the repository's `Containerfile` into the
 * image `gpux:latest` (or `--tag`) with the first container tool found on PATH: `buildah`, else `podman`, else
 * `docker`.
 *
 * - `--base IMAGE` is the Containerfile's `BASE` build argument (default `debian:bookworm-slim`): any Debian bookworm
 *   image, such as one made offline with `mmdebstrap` and `podman import` (docs/container.md).
 * - buildah and podman build in the Docker image format (`--format docker`), which keeps the `HEALTHCHECK` (the OCI
 *   format drops it), and reuse cached layers (`--layers`): a rebuild after a source change redoes only the last
 *   steps. buildah builds with `--isolation chroot`, which needs no user namespaces or runtime daemon.
 * - When `NODE_EXTRA_CA_CERTS` (or `DENO_CERT`) names a file, it is handed to the build as the secret `extra_ca`, so
 *   `npm ci` works behind a TLS-intercepting proxy; a secret is never stored in a layer.
 * - Anything after `--` goes to the tool unchanged (`-- --no-cache`, `-- --build-arg UID=2000`).
 *
 * Prints the command it runs, then the tool's output; exits with the tool's exit code (2 for a bad flag, 3 when no
 * tool is installed).
 *
 * @module
 */

/** The tools tried, in order, and the flags each needs beyond the common ones. */
const TOOLS: { name: string; flags: string[] }[] = [
  { name: "buildah", flags: ["bud", "--isolation", "chroot", "--format", "docker", "--layers"] },
  { name: "podman", flags: ["build", "--format", "docker", "--layers"] },
  { name: "docker", flags: ["build"] },
];

/** What the command line asked for. */
export interface ContainerOptions {
  base?: string;
  tag: string;
  extra: string[];
}

/** Parses `[--base IMAGE] [--tag NAME] [-- …]`; throws a one-line message on anything else. */
export function parseContainerArgs(args: string[]): ContainerOptions {
  const options: ContainerOptions = { tag: "gpux:latest", extra: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      options.extra = args.slice(i + 1);
      break;
    }
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    if (flag !== "--base" && flag !== "--tag") {
      throw new Error(`unknown option ${arg} (usage: [--base IMAGE] [--tag NAME] [-- TOOL ARGS…])`);
    }
    const value = inline ?? args[++i];
    if (!value) throw new Error(`${flag} needs a value`);
    if (flag === "--base") options.base = value;
    else options.tag = value;
  }
  return options;
}

/** The first of buildah, podman, docker found on PATH, with its path. */
export function findTool(
  path = Deno.env.get("PATH") ?? "",
): { name: string; flags: string[]; path: string } | undefined {
  for (const tool of TOOLS) {
    for (const dir of path.split(":").filter(Boolean)) {
      try {
        const file = `${dir}/${tool.name}`;
        if (Deno.statSync(file).isFile) return { ...tool, path: file };
      } catch { /* not in this folder */ }
    }
  }
  return undefined;
}

/** The CA bundle to hand the build as the `extra_ca` secret, when the environment names one that exists. */
function extraCa(): string | undefined {
  for (const name of ["NODE_EXTRA_CA_CERTS", "DENO_CERT"]) {
    const file = Deno.env.get(name);
    if (!file) continue;
    try {
      if (Deno.statSync(file).isFile) return file;
    } catch { /* named but absent: ignore */ }
  }
  return undefined;
}

/** The tool's full argument list for `options`, building the context `root`. */
export function buildArgs(tool: { flags: string[] }, options: ContainerOptions, root: string, ca?: string): string[] {
  return [
    ...tool.flags,
    "-t",
    options.tag,
    "-f",
    `${root}/Containerfile`,
    ...(options.base ? ["--build-arg", `BASE=${options.base}`] : []),
    ...(ca ? ["--secret", `id=extra_ca,src=${ca}`] : []),
    ...options.extra,
    root,
  ];
}

async function main(args: string[]): Promise<number> {
  let options: ContainerOptions;
  try {
    options = parseContainerArgs(args);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  const tool = findTool();
  if (!tool) {
    console.error("error: no container tool found: install buildah, podman or docker");
    console.error("hint: on Debian or Ubuntu: apt-get install -y buildah");
    return 3;
  }
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const argv = buildArgs(tool, options, root, extraCa());
  console.error(`$ ${tool.name} ${argv.join(" ")}`);
  const { code } = await new Deno.Command(tool.path, { args: argv, stdin: "null" }).spawn().status;
  return code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
