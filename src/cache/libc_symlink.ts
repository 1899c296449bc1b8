/**
 * Creates a symlink with the C library's `symlink(2)`, called through `Deno.dlopen`.
 *
 * Why it exists: `Deno.symlink` demands unscoped `--allow-read` and `--allow-write`, so under
 * `deno task gpux` (write access to the Hub cache only) it is refused, and snapshot entries would be
 * hard links, which Python's huggingface_hub miscounts, cannot prune and splits on re-download. The task
 * already grants `--allow-ffi` (onnxruntime-node needs it), and with it `symlink(2)` works. Deno does not
 * check a path handed to a foreign function, so the caller must prove the link's own path is inside the
 * cache first; {@linkcode SnapshotWriter} does, and computes the target itself.
 *
 * Returns `"unavailable"` where it cannot be called at all (no `--allow-ffi`, Windows, no such library),
 * so the caller falls back exactly as before.
 *
 * @module
 */

const LIBRARIES: Partial<Record<typeof Deno.build.os, { path: string; errno: string }>> = {
  linux: { path: "libc.so.6", errno: "__errno_location" },
  darwin: { path: "libSystem.B.dylib", errno: "__error" },
};

const SYMBOLS = {
  symlink: { parameters: ["buffer", "buffer"], result: "i32" },
  errno: { parameters: [], result: "pointer" },
} as const;

type Library = { call(target: string, path: string): number };

let library: Library | null | undefined;

function open(): Library | null {
  if (library !== undefined) return library;
  const lib = LIBRARIES[Deno.build.os];
  if (!lib) return (library = null);
  try {
    const handle = Deno.dlopen(lib.path, {
      symlink: SYMBOLS.symlink,
      errno: { ...SYMBOLS.errno, name: lib.errno },
    });
    const encoder = new TextEncoder();
    library = {
      call(target, path) {
        const rc = handle.symbols.symlink(encoder.encode(`${target}\0`), encoder.encode(`${path}\0`));
        if (rc === 0) return 0;
        const pointer = handle.symbols.errno();
        return pointer ? new Deno.UnsafePointerView(pointer).getInt32() : -1;
      },
    };
  } catch {
    library = null; // no --allow-ffi, or no such library: the caller falls back
  }
  return library;
}

/** errno values of `symlink(2)` that mean the file system cannot hold symlinks (Linux and macOS numbering). */
const NOT_SUPPORTED: Record<string, number[]> = { linux: [1, 95], darwin: [1, 45] }; // EPERM, EOPNOTSUPP

/** The outcome of {@linkcode libcSymlink}. */
export type LibcSymlinkResult = "ok" | "unavailable" | { errno: number; notSupported: boolean };

/**
 * `symlink(target, path)` through libc. The caller has proven `path` lies inside the cache: Deno's
 * permission checks do not see this call.
 */
export function libcSymlink(target: string, path: string): LibcSymlinkResult {
  if (target.includes("\0") || path.includes("\0")) return { errno: 22, notSupported: false };
  const lib = open();
  if (!lib) return "unavailable";
  const errno = lib.call(target, path);
  if (errno === 0) return "ok";
  return { errno, notSupported: (NOT_SUPPORTED[Deno.build.os] ?? []).includes(errno) };
}
