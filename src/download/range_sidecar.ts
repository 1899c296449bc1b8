/**
 * The ranges sidecar on disk, `blobs/{etag}.ranges.json.incomplete`: the {@linkcode RangePlan} of an
 * interrupted ranged transfer, so that the next run continues where each range stopped.
 *
 * {@linkcode loadRangePlan} resumes a saved plan only when it describes this file and the preallocated
 * file beside it has the full size; otherwise it starts afresh, and a sequential partial (from an
 * earlier run or from Python) becomes the first bytes of the ranged file. {@linkcode saveRangePlan}
 * replaces the sidecar atomically, and on a full disk overwrites it in place (its text never grows).
 *
 * @module
 */
import { fileSize, type PartialPaths, removeIfExists } from "./partial_files.ts";
import { type PlannedFile, RangePlan } from "./range_plan.ts";
import { isDiskFull, writeFailure } from "../write_failure.ts";

/**
 * The plan to continue with: the saved one when it is valid for `file` and the ranged partial has the
 * full size, else a fresh one of `chunkSize` parts (deleting the ranged partial, adopting the
 * sequential one as the first bytes when it is not longer than the file, deleting it otherwise).
 */
export async function loadRangePlan(paths: PartialPaths, file: PlannedFile, chunkSize: number): Promise<RangePlan> {
  try {
    const saved = RangePlan.parse(await Deno.readTextFile(paths.rangedState), file);
    if (saved && (await fileSize(paths.ranged)) === file.size) return saved;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await removeIfExists(paths.ranged);
  const plan = RangePlan.fresh(file, chunkSize);
  const prefix = await fileSize(paths.sequential);
  if (prefix !== undefined && prefix > 0 && prefix <= file.size) {
    await Deno.rename(paths.sequential, paths.ranged);
    plan.adoptPrefix(prefix);
  } else if (prefix !== undefined) {
    await removeIfExists(paths.sequential);
  }
  return plan;
}

/** Writes `plan` to the sidecar at `path` (`label` names the file in errors). */
export async function saveRangePlan(path: string, plan: RangePlan, label: string): Promise<void> {
  const text = plan.text();
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (error) {
    // a full disk leaves a half-written temporary file: never leave it behind
    await Deno.remove(tmp).catch(() => {});
    // the sidecar already has its full length: overwriting it in place needs no new disk block
    if (isDiskFull(error) && await overwriteInPlace(path, text)) return;
    throw writeFailure(error, { path, label });
  }
}

/** Writes `text` over the start of an existing file of at least its length; false when that is not possible. */
async function overwriteInPlace(path: string, text: string): Promise<boolean> {
  const bytes = new TextEncoder().encode(text);
  try {
    if (((await Deno.stat(path)).size) !== bytes.length) return false;
    const file = await Deno.open(path, { write: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
    } finally {
      file.close();
    }
    return true;
  } catch {
    return false;
  }
}
