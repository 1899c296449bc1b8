/**
 * Writes tests/goldens/whisper_log_mel.json: Python transformers' WhisperFeatureExtractor (80 and 128
 * mel bands) on the clip of tests/support/audio_golden.ts, for tests/audio_log_mel_test.ts.
 * Needs Python with transformers and numpy (`--python PATH`, default /tmp/venv/bin/python).
 * Run: `deno run -A scripts/audio_golden.ts`.
 *
 * @module
 */
import { goldenClip } from "../tests/support/audio_golden.ts";

const pythonFlag = Deno.args.indexOf("--python");
const python = pythonFlag >= 0 ? Deno.args[pythonFlag + 1] : "/tmp/venv/bin/python";
const dir = await Deno.makeTempDir({ prefix: "gpux-golden-" });
try {
  const clip = goldenClip();
  await Deno.writeFile(`${dir}/clip.f32`, new Uint8Array(clip.buffer));
  const script = new URL("./audio_golden.py", import.meta.url).pathname;
  const run = await new Deno.Command(python, { args: [script, `${dir}/clip.f32`, "160"], stderr: "inherit" }).output();
  if (!run.success) throw new Error(`${python} ${script} failed`);
  const out = new URL("../tests/goldens/whisper_log_mel.json", import.meta.url);
  await Deno.writeTextFile(out, JSON.stringify(JSON.parse(new TextDecoder().decode(run.stdout)), null, 1) + "\n");
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", out.pathname] }).output();
  console.log(`wrote ${out.pathname}`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
