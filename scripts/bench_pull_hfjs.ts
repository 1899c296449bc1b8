/**
 * The baseline of `scripts/bench_pull.ts`: `@huggingface/hub`'s `snapshotDownload` of one repository,
 * as a process of its own (so start-up and peak RSS are measured the same way as for gpux).
 *
 * Usage: `deno run -A scripts/bench_pull_hfjs.ts <repo> <cacheDir> <hubUrl>`
 *
 * @module
 */
import { snapshotDownload } from "@huggingface/hub";

if (import.meta.main) {
  const [repo, cacheDir, hubUrl] = Deno.args;
  console.debug = () => {}; // snapshotDownload logs every file through console.debug
  const path = await snapshotDownload({ repo, cacheDir, hubUrl });
  console.log(path);
}
