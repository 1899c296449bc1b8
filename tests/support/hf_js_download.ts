/**
 * Downloads a repository into a Hub cache with `@huggingface/hub`'s own helpers, as a JavaScript
 * user of that library would; run as a subprocess so that a test can choose its permissions
 * (with a path-scoped `--allow-write` the helpers cannot symlink and copy instead).
 *
 * Usage: `deno run … hf_js_download.ts <hubUrl> <repo> <cacheDir> snapshot|file [revision] [path]`
 *
 * @module
 */
import { downloadFileToCacheDir, snapshotDownload } from "@huggingface/hub";

const [hubUrl, repo, cacheDir, mode, revision, path] = Deno.args;
console.debug = () => {}; // it prints "Downloading …" through console.debug
console.info = () => {}; // and "Symlink not supported. Copying file …" through console.info
if (mode === "snapshot") {
  console.log(await snapshotDownload({ repo, hubUrl, cacheDir, revision: revision || undefined }));
} else {
  console.log(await downloadFileToCacheDir({ repo, hubUrl, cacheDir, path, revision: revision || undefined }));
}
