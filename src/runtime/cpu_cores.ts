/**
 * How many CPU cores this process may really use: the smaller of its scheduler affinity
 * (`Cpus_allowed_list` in `/proc/self/status`) and its cgroup CPU quota (`cpu.max` in cgroup v2,
 * `cpu.cfs_quota_us / cpu.cfs_period_us` in v1), never more than the host's count. onnxruntime's own default
 * thread count behaves like one thread on a 2-core machine and ignores quotas in containers; gpux sets
 * `intraOpNumThreads` to this number instead, and a server divides it among its workers ({@linkcode threadsPerWorker}).
 *
 * @module
 */

/** Where {@linkcode availableCores} found its answer. */
export interface CoreCount {
  /** Cores this process may use (at least 1). */
  cores: number;
  /** Cores of the host (`navigator.hardwareConcurrency`). */
  host: number;
  /** CPUs in the affinity mask, when readable. */
  affinity?: number;
  /** The cgroup quota in cores (rounded up), when one is set. */
  quota?: number;
}

/** Options of {@linkcode availableCores}: files are read through `readFile` (tests give fake ones). */
export interface CoreCountOptions {
  /** Reads a text file; `undefined` when it does not exist (default: `Deno.readTextFileSync`). */
  readFile?: (path: string) => string | undefined;
  /** Host core count (default `navigator.hardwareConcurrency`). */
  host?: number;
}

function defaultRead(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** Number of CPUs in a list such as `0-3,8,10-11`; `undefined` when it does not parse. */
export function countCpuList(list: string): number | undefined {
  let n = 0;
  for (const part of list.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return undefined;
    n += hi - lo + 1;
  }
  return n > 0 ? n : undefined;
}

/** The cgroup CPU quota of this process in cores (rounded up), or `undefined` when unlimited or unknown. */
function cgroupQuota(read: (path: string) => string | undefined): number | undefined {
  const cgroups = read("/proc/self/cgroup") ?? "";
  const quotas: number[] = [];
  for (const line of cgroups.split("\n")) {
    const [, controllers, path] = line.split(":");
    if (path === undefined) continue;
    const rel = path === "/" ? "" : path;
    if (controllers === "") {
      // cgroup v2: "max 100000" or "200000 100000", at our group and each ancestor
      const parts = rel.split("/").filter(Boolean);
      for (let i = parts.length; i >= 0; i--) {
        const dir = ["/sys/fs/cgroup", ...parts.slice(0, i)].join("/");
        const text = read(`${dir}/cpu.max`)?.trim();
        const m = text && /^(\d+)\s+(\d+)$/.exec(text);
        if (m && Number(m[2]) > 0) quotas.push(Math.ceil(Number(m[1]) / Number(m[2])));
      }
    } else if (controllers.split(",").includes("cpu")) {
      for (const base of [`/sys/fs/cgroup/cpu,cpuacct${rel}`, `/sys/fs/cgroup/cpu${rel}`]) {
        const quota = Number(read(`${base}/cpu.cfs_quota_us`)?.trim());
        const period = Number(read(`${base}/cpu.cfs_period_us`)?.trim());
        if (quota > 0 && period > 0) {
          quotas.push(Math.ceil(quota / period));
          break;
        }
      }
    }
  }
  return quotas.length ? Math.max(1, Math.min(...quotas)) : undefined;
}

/**
 * The cores this process may use, with where the number came from.
 *
 * @example
 * ```ts
 * const { cores } = availableCores(); // 2 on a 16-core host whose container has cpu.max "200000 100000"
 * ```
 */
export function availableCores(options: CoreCountOptions = {}): CoreCount {
  const read = options.readFile ?? defaultRead;
  const host = Math.max(1, options.host ?? navigator.hardwareConcurrency ?? 1);
  const status = read("/proc/self/status");
  const list = status && /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  const affinity = list ? countCpuList(list) : undefined;
  const quota = cgroupQuota(read);
  const cores = Math.max(1, Math.min(host, affinity ?? host, quota ?? host));
  return { cores, host, ...(affinity !== undefined ? { affinity } : {}), ...(quota !== undefined ? { quota } : {}) };
}

/**
 * Intra-op threads for each of `workers` sessions sharing the process's cores: an even share, at least 1.
 *
 * @example
 * ```ts
 * threadsPerWorker(4, 16); // 4
 * threadsPerWorker(3, 2);  // 1
 * ```
 */
export function threadsPerWorker(workers: number, cores: number = availableCores().cores): number {
  return Math.max(1, Math.floor(cores / Math.max(1, workers)));
}
