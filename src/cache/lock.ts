/**
 * A per-repository lock that works across processes and machines sharing a file system (NFS,
 * Lustre: where `flock` may silently do nothing), with staleness detection so that a crashed
 * holder never blocks forever:
 *
 * - The lock is a file, `{cacheDir}/.locks/models--org--name/gpux.lock` (Python's huggingface_hub
 *   keeps its own per-blob lock files in the same folder; scanners skip `.locks`), created with
 *   `createNew` (O_CREAT|O_EXCL, atomic on local file systems and NFSv3+). It holds the holder's
 *   pid, host name, a random token and the time it was taken.
 * - The holder refreshes the file's modification time every `heartbeatMs` (a heartbeat).
 * - The holder also keeps the file open with an exclusive `flock` for as long as it lives; the kernel
 *   drops it when the process dies, however it dies (`kill -9` included). A contender on the same host
 *   that can take that `flock` knows the holder is gone, without reading `/proc` (which Deno's
 *   sandbox refuses without `--allow-all`) and without being fooled by a reused pid.
 * - A lock whose heartbeat is older than `staleMs`, or whose holder is gone from this very host,
 *   is stale: it is renamed aside (only one contender's rename succeeds) and taken over.
 *
 * @module
 */
import { CacheError, InterruptedError } from "../errors.ts";
import { sleep } from "../sleep.ts";
import { isDiskFull, writeFailure } from "../write_failure.ts";
import { repoFolderName } from "../vocabulary/cache_layout.ts";
import { insideOrThrow } from "./contained_path.ts";

/** Default heartbeat interval, ms. */
export const DEFAULT_HEARTBEAT_MS = 5_000;
/** Default age after which a lock without heartbeat is stale, ms. */
export const DEFAULT_STALE_MS = 60_000;

/** A lock file still without its info this long after it was written is a dead process's, ms. */
const EMPTY_LOCK_GRACE_MS = 2_000;

/** What a lock file holds. */
export interface LockInfo {
  /** Process id of the holder. */
  pid: number;
  /** Host name of the holder (a pid is only meaningful on its own host). */
  host: string;
  /** Random token identifying this acquisition (tells a taken-over lock from ours). */
  token: string;
  /** ISO time the lock was taken. */
  since: string;
  /** The holder keeps an exclusive `flock` on the file while it lives (absent in older lock files). */
  flock?: boolean;
}

/** Options of {@linkcode acquireRepoLock}. */
export interface RepoLockOptions {
  /** Cancels the wait. */
  signal?: AbortSignal;
  /** Heartbeat interval, ms (default 5 000). */
  heartbeatMs?: number;
  /** A heartbeat older than this makes the lock stale, ms (default 60 000). */
  staleMs?: number;
  /** Polling interval while waiting, ms (default 250). */
  pollMs?: number;
  /** Called once when the lock is held by someone else and this call starts waiting. */
  onWait?: (holder: LockInfo | undefined) => void;
  /** Called when a stale lock is taken over. */
  onStale?: (holder: LockInfo | undefined, reason: string) => void;
}

/** A held lock; release it in a `finally`. */
export interface RepoLock {
  readonly path: string;
  readonly info: LockInfo;
  /** Stops the heartbeat and deletes the lock file (only if it is still ours). */
  release(): Promise<void>;
}

/** Path of the lock of one repository. */
export function repoLockPath(cacheDir: string, repoId: string): string {
  return `${cacheDir.replace(/\/+$/, "")}/.locks/${repoFolderName(repoId)}/gpux.lock`;
}

function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

async function readLock(path: string): Promise<{ info?: LockInfo; mtime: number } | undefined> {
  try {
    const stat = await Deno.stat(path);
    let info: LockInfo | undefined;
    try {
      info = JSON.parse(await Deno.readTextFile(path));
    } catch {
      info = undefined; // being written right now, or garbage
    }
    return { info, mtime: stat.mtime?.getTime() ?? 0 };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Whether `pid` runs on this machine (`/proc` on Linux); `undefined` when it cannot be told. */
async function pidAlive(pid: number): Promise<boolean | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    return undefined;
  }
}

/**
 * Whether the holder's `flock` on `path` is gone (it died): true when this process can take it.
 * `undefined` when it cannot be told (the file vanished, or the file system has no `flock`).
 */
async function flockFree(path: string): Promise<boolean | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return undefined;
  }
  try {
    const taken = await file.tryLock(true);
    if (taken) await file.unlock();
    return taken;
  } catch {
    return undefined;
  } finally {
    file.close();
  }
}

async function staleReason(
  path: string,
  lock: { info?: LockInfo; mtime: number },
  staleMs: number,
): Promise<string | undefined> {
  const age = Date.now() - lock.mtime;
  if (age > staleMs) return `no heartbeat for ${Math.round(age / 1000)}s`;
  // a holder writes its info the moment it creates the file: one still empty seconds later was left by a crash
  if (!lock.info && age > EMPTY_LOCK_GRACE_MS && await flockFree(path) === true) {
    return "an empty lock file left by a process that died while taking it";
  }
  const host = hostName();
  // a pid or a flock means something only on its own host (and "unknown" hosts cannot be told apart)
  if (lock.info && host !== "unknown" && lock.info.host === host && lock.info.pid !== Deno.pid) {
    // the holder wrote its info after taking its flock: a free flock now means it has died
    if (lock.info.flock === true && await flockFree(path) === true) return `process ${lock.info.pid} is gone`;
    if (await pidAlive(lock.info.pid) === false) return `process ${lock.info.pid} is gone`;
  }
  return undefined;
}

/**
 * Takes the lock of `repoId` in `cacheDir`, waiting while another live process holds it.
 *
 * @throws {InterruptedError} `signal` aborted while waiting.
 * @throws {CacheError} the lock folder cannot be created (e.g. no write permission).
 */
export async function acquireRepoLock(
  cacheDir: string,
  repoId: string,
  options: RepoLockOptions = {},
): Promise<RepoLock> {
  const path = repoLockPath(cacheDir, repoId);
  insideOrThrow(`${cacheDir.replace(/\/+$/, "")}/.locks`, path, `the lock of '${repoId}'`);
  const dir = path.slice(0, path.lastIndexOf("/"));
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    if (isDiskFull(e)) throw writeFailure(e, { path: `${dir}/`, bytesNeeded: 4096 });
    const denied = e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied;
    throw new CacheError(`cannot create the lock folder ${dir}: ${(e as Error).message}`, {
      cause: e,
      hint: e instanceof Deno.errors.NotCapable
        ? "the sandbox refused write access: it grants each command only the cache it names (--cache-dir, else HF_HUB_CACHE, else $HF_HOME/hub): pass this cache with --cache-dir (README: Permissions)"
        : denied
        ? `${cacheDir} is not writable by this user: choose another cache with --cache-dir or HF_HUB_CACHE`
        : "check that the cache directory is writable (--cache-dir or HF_HUB_CACHE)",
    });
  }
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  const info: LockInfo = {
    pid: Deno.pid,
    host: hostName(),
    token: crypto.randomUUID(),
    since: new Date().toISOString(),
    flock: true,
  };
  let waited = false;
  for (;;) {
    if (options.signal?.aborted) throw new InterruptedError("interrupted");
    let file: Deno.FsFile | undefined;
    try {
      file = await Deno.open(path, { read: true, write: true, createNew: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw lockWriteError(path, e);
    }
    if (file) {
      try {
        // the flock first, then the info that says it is held: a contender that reads the info finds the flock
        await file.lock(true).catch(() => (info.flock = false));
        const bytes = new TextEncoder().encode(JSON.stringify(info));
        let written = 0;
        while (written < bytes.length) written += await file.write(bytes.subarray(written));
      } catch (e) {
        // a lock file without its info (a full disk) would make every later pull wait for its heartbeat
        file.close();
        await Deno.remove(path).catch(() => {});
        throw lockWriteError(path, e);
      }
      return heldLock(path, info, heartbeatMs, file);
    }
    const current = await readLock(path);
    if (!current) continue;
    const reason = await staleReason(path, current, staleMs);
    if (reason) {
      // rename aside: of several contenders only one succeeds; then check that we moved the stale one
      const aside = `${path}.stale-${info.token}`;
      try {
        await Deno.rename(path, aside);
        const moved = await readLock(aside);
        if (moved?.info?.token !== current.info?.token && moved && !(await staleReason(aside, moved, staleMs))) {
          // a fresh lock was taken between our read and our rename: put it back if the name is free
          await Deno.link(aside, path).catch(() => {});
        } else {
          options.onStale?.(current.info, reason);
        }
        await Deno.remove(aside).catch(() => {});
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      continue;
    }
    // a holder that has just created the file writes who it is a moment later: name it when known
    if (!waited && (current.info || Date.now() - current.mtime > EMPTY_LOCK_GRACE_MS)) {
      waited = true;
      options.onWait?.(current.info);
    }
    await sleep(options.pollMs ?? 250, options.signal);
  }
}

function lockWriteError(path: string, cause: unknown): CacheError {
  if (isDiskFull(cause)) return writeFailure(cause, { path, bytesNeeded: 512 }) as CacheError;
  return new CacheError(`cannot create the lock file ${path}: ${(cause as Error).message}`, { cause });
}

function heldLock(path: string, info: LockInfo, heartbeatMs: number, file: Deno.FsFile): RepoLock {
  const timer = setInterval(() => {
    const now = new Date();
    Deno.utime(path, now, now).catch(() => {});
  }, heartbeatMs);
  let released = false;
  return {
    path,
    info,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      try {
        const current = await readLock(path);
        if (current?.info?.token === info.token) await Deno.remove(path).catch(() => {});
      } finally {
        file.close(); // drops the flock
      }
    },
  };
}

// --- Python's per-blob lock ---------------------------------------------------------------------------------------

/** Path of Python huggingface_hub's lock of one blob: `{cacheDir}/.locks/models--org--name/{etag}.lock`. */
export function blobLockPath(cacheDir: string, repoId: string, etag: string): string {
  return `${cacheDir.replace(/\/+$/, "")}/.locks/${repoFolderName(repoId)}/${etag}.lock`;
}

/** A held blob lock; release it in a `finally`. */
export interface BlobLock {
  readonly path: string;
  /** Drops the `flock` and closes the file (the file stays, as Python's filelock leaves it). */
  release(): void;
}

/** Options of {@linkcode acquireBlobLock}. */
export interface BlobLockOptions {
  /** Cancels the wait. */
  signal?: AbortSignal;
  /** Polling interval while another process holds it, ms (default 100, as Python's filelock polls 50 ms). */
  pollMs?: number;
  /** Called once when another process (gpux or Python) holds the lock and this call starts waiting. */
  onWait?: () => void;
}

/**
 * Takes the lock Python's huggingface_hub takes around the download of one blob, in the way its `filelock`
 * package takes it on Unix: open (create, mode 0o664) `.locks/models--org--name/{etag}.lock`, then a
 * non-blocking exclusive `flock`, polled until it is free; a file unlinked while we waited is opened
 * again. Either tool then waits while the other fetches the same blob. Where the file system has no
 * `flock`, the lock is skipped (the download stays correct: blobs are published by an atomic rename).
 *
 * @throws {InterruptedError} `signal` aborted while waiting.
 * @throws {CacheError} the lock folder or file cannot be created.
 */
export async function acquireBlobLock(
  cacheDir: string,
  repoId: string,
  etag: string,
  options: BlobLockOptions = {},
): Promise<BlobLock> {
  const path = insideOrThrow(
    `${cacheDir.replace(/\/+$/, "")}/.locks/${repoFolderName(repoId)}`,
    blobLockPath(cacheDir, repoId, etag),
    `the lock of blob '${etag}'`,
  );
  if (etag.includes("/")) throw new CacheError(`refusing a blob name with a slash: ${JSON.stringify(etag)}`);
  return await acquireFileLock(path, options);
}

/**
 * Takes an exclusive `flock` on the file `path` (created, mode 0o664) as Python's `filelock` does on Unix,
 * polling while another process holds it (see {@linkcode acquireBlobLock}). The caller has proven `path` is
 * where it may write.
 *
 * @throws {InterruptedError} `signal` aborted while waiting.
 * @throws {CacheError} the lock folder or file cannot be created.
 */
export async function acquireFileLock(path: string, options: BlobLockOptions = {}): Promise<BlobLock> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  let waited = false;
  for (;;) {
    if (options.signal?.aborted) throw new InterruptedError("interrupted");
    let file: Deno.FsFile;
    try {
      await Deno.mkdir(dir, { recursive: true });
      if ((await Deno.lstat(path).catch(() => undefined))?.isSymlink) await Deno.remove(path);
      file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o664 });
    } catch (e) {
      throw lockWriteError(path, e);
    }
    let locked: boolean;
    try {
      locked = await file.tryLock(true);
    } catch {
      file.close(); // no flock on this file system: go on unlocked, as correctness never depended on it
      return { path, release() {} };
    }
    if (locked) {
      // the holder before us may have deleted the file after its release: a lock on a dead inode locks nothing
      if ((await file.stat()).nlink === 0) {
        file.close();
        continue;
      }
      return {
        path,
        release() {
          try {
            file.unlockSync();
          } finally {
            file.close();
          }
        },
      };
    }
    file.close();
    if (!waited) {
      waited = true;
      options.onWait?.();
    }
    await sleep(options.pollMs ?? 100, options.signal);
  }
}
