/**
 * The events a pull reports while it runs (plan, per-file start/progress/done, retries, warnings).
 * `download/` emits them, `registry/` forwards them, `cli/` draws them.
 *
 * @module
 */

/** Progress events emitted while pulling a model. */
export type PullProgressEvent =
  | {
    type: "plan";
    id: string;
    revision: string;
    sha: string;
    /** Files to be present in the snapshot, with whether they are already cached. */
    files: { path: string; size: number; cached: boolean }[];
    bytesTotal: number;
    bytesCached: number;
  }
  | { type: "file-start"; path: string; size: number; resumedFrom: number }
  | {
    type: "progress";
    path: string;
    fileBytes: number;
    fileTotal: number;
    bytesDone: number;
    bytesTotal: number;
    filesDone: number;
    filesTotal: number;
    /** Bytes per second over the recent window. */
    rate: number;
    /** Seconds left at the current rate, or `undefined` when unknown. */
    eta?: number;
  }
  | { type: "file-done"; path: string; size: number; cached: boolean }
  | { type: "retry"; path?: string; attempt: number; delayMs: number; reason: string }
  | { type: "warning"; message: string }
  /** Something worth knowing that needs no action (e.g. snapshot files are hard links, not symlinks). */
  | { type: "notice"; message: string };
