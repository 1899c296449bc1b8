/** Cores this process may use (affinity, cgroup quotas) and whether a GPU is present, from fake /proc and /sys trees. */
import { assertEquals } from "./support/assert.ts";
import { availableCores, countCpuList, threadsPerWorker } from "../src/runtime/cpu_cores.ts";
import { cudaRuntimesPresent, detectGpu } from "../src/runtime/gpu_presence.ts";

function files(map: Record<string, string>): (path: string) => string | undefined {
  return (path) => map[path];
}

Deno.test("cpu lists count ranges and singles", () => {
  assertEquals(countCpuList("0-1"), 2);
  assertEquals(countCpuList("0-3,8,10-11"), 7);
  assertEquals(countCpuList("0"), 1);
  assertEquals(countCpuList("x"), undefined);
});

Deno.test("available cores: the smallest of host, affinity and cgroup quota (v2 and v1)", () => {
  const status = "Name:\tdeno\nCpus_allowed_list:\t0-7\n";
  assertEquals(availableCores({ host: 16, readFile: files({ "/proc/self/status": status }) }), {
    cores: 8,
    host: 16,
    affinity: 8,
  });
  const v2 = files({
    "/proc/self/status": status,
    "/proc/self/cgroup": "0::/kubepods/pod1\n",
    "/sys/fs/cgroup/kubepods/pod1/cpu.max": "250000 100000\n",
    "/sys/fs/cgroup/kubepods/cpu.max": "max 100000\n",
  });
  assertEquals(availableCores({ host: 16, readFile: v2 }), { cores: 3, host: 16, affinity: 8, quota: 3 });
  const v1 = files({
    "/proc/self/cgroup": "4:memory:/x\n1:cpu,cpuacct:/docker/abc\n",
    "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "100000",
    "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000",
  });
  assertEquals(availableCores({ host: 16, readFile: v1 }).cores, 1);
  const unlimited = files({ "/proc/self/cgroup": "1:cpu:/\n", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1" });
  assertEquals(availableCores({ host: 4, readFile: unlimited }), { cores: 4, host: 4 });
  assertEquals(availableCores().cores >= 1, true);
});

Deno.test("threads per worker: an even share of the cores, at least one", () => {
  assertEquals(threadsPerWorker(4, 16), 4);
  assertEquals(threadsPerWorker(3, 8), 2);
  assertEquals(threadsPerWorker(3, 2), 1);
});

Deno.test("GPU presence: NVIDIA device nodes, the driver's /proc entry, WSL's /dev/dxg or libcuda; always on Windows/macOS", async () => {
  const root = await Deno.makeTempDir();
  try {
    const linux = { os: "linux", arch: "x86_64" };
    assertEquals(detectGpu({ platform: linux, root, loadsLibrary: false }), { present: false, evidence: [] });
    assertEquals(detectGpu({ platform: linux, root, loadsLibrary: (n) => n === "libcuda.so.1" }).evidence, [
      "libcuda.so.1 (NVIDIA driver)",
    ]);
    await Deno.mkdir(`${root}/dev`);
    await Deno.writeTextFile(`${root}/dev/nvidiactl`, "");
    await Deno.mkdir(`${root}/proc/driver/nvidia`, { recursive: true });
    await Deno.writeTextFile(`${root}/proc/driver/nvidia/version`, "NVRM version: 580");
    assertEquals(detectGpu({ platform: linux, root, loadsLibrary: false }), {
      present: true,
      evidence: ["/dev/nvidiactl", "/proc/driver/nvidia/version"],
    });
    assertEquals(detectGpu({ platform: { os: "windows", arch: "x86_64" } }).present, true);
    assertEquals(detectGpu({ platform: { os: "darwin", arch: "aarch64" } }).present, true);
    assertEquals(cudaRuntimesPresent((n) => n === "libcudart.so.12"), [12]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("available cores follow the real affinity mask (taskset -c 0 → 1)", async () => {
  const script = `import { availableCores } from "${new URL("../src/runtime/cpu_cores.ts", import.meta.url)}";
    console.log(availableCores().cores);`;
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("taskset", {
      args: ["-c", "0", Deno.execPath(), "eval", "--quiet", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch {
    console.warn("skipped: no taskset here");
    return;
  }
  assertEquals(new TextDecoder().decode(out.stdout).trim(), "1", new TextDecoder().decode(out.stderr));
});
