/**
 * Everything gpux tells about a model at a revision (`gpux info`): the Hub's record at the resolved commit, its
 * files, formats, ONNX variants, the model card's first paragraph, `architectures` and `model_type`, and how to
 * convert it when it has no ONNX files.
 *
 * @module
 */
import { downloadFile } from "@huggingface/hub";
import { AuthenticationError } from "../errors.ts";
import type { RequestContext } from "../download/http.ts";
import { dropUndefined, type HubClient } from "./hub_client.ts";
import type { ModelMetadata, RevisionOptions } from "./manager.ts";
import { parseConfig } from "./model_record.ts";
import { resolveRevision } from "./resolve_revision.ts";
import { conversionHint, detectFormats, modalityFromPipelineTag, onnxVariants } from "../vocabulary/formats.ts";
import { parseModelId, validateRevision } from "../vocabulary/model_id.ts";

/** README.md and config.json are read for `getModelInfo` only below this size. */
const SMALL_FILE_LIMIT = 2_000_000;

/** Metadata, formats, ONNX variants, files and conversion hint of a model at a revision. */
export async function getModelInfo(
  client: HubClient,
  modelId: string,
  options: RevisionOptions = {},
): Promise<ModelMetadata> {
  const ref = parseModelId(modelId);
  const revision = options.revision ?? ref.revision ?? "main";
  validateRevision(revision);
  client.assertOnline(`get information about ${ref.id}`);
  const resolved = await resolveRevision(client, ref.id, revision, options);
  const { info, sha, files } = resolved;
  const small = (path: string) => files.some((f) => f.path === path && f.size < SMALL_FILE_LIMIT);
  const context = { repoId: resolved.id, revision };
  const apiConfig = info.config ?? {};
  const needConfig = apiConfig.architectures === undefined && apiConfig.modelType === undefined;
  const [readme, config] = await Promise.all([
    small("README.md") ? readText(client, resolved.id, sha, "README.md", context, options.signal) : undefined,
    needConfig && small("config.json")
      ? readText(client, resolved.id, sha, "config.json", context, options.signal)
      : undefined,
  ]);
  const description = readme !== undefined ? cardDescription(readme) : undefined;
  const modelConfig = config !== undefined ? parseConfig(config) : apiConfig;
  const formats = detectFormats(files);
  const onnx = onnxVariants(files);
  const metadata: ModelMetadata = {
    id: resolved.id,
    revision,
    sha,
    private: info.private,
    gated: info.gated,
    pipelineTag: info.pipelineTag,
    modality: modalityFromPipelineTag(info.pipelineTag),
    libraryName: info.libraryName,
    tags: info.tags,
    license: info.license,
    downloads: info.downloads,
    likes: info.likes,
    lastModified: info.lastModified,
    description,
    architectures: modelConfig.architectures,
    modelType: modelConfig.modelType,
    files,
    totalSize: files.reduce((sum, f) => sum + f.size, 0),
    formats,
    onnx,
  };
  if (!formats.includes("onnx")) {
    metadata.conversion = conversionHint(resolved.id, info.pipelineTag, revision);
  }
  return dropUndefined(metadata);
}

/** A small text file of the repository at `sha` (README.md, config.json), or nothing when gated. */
async function readText(
  client: HubClient,
  id: string,
  sha: string,
  path: string,
  context: RequestContext,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const call = await client.hubFetchOptions({ ...context, path }, signal);
  let blob: Blob | null;
  try {
    blob = await downloadFile({ ...call, repo: { type: "model", name: id }, path, revision: sha, xet: false });
  } catch (error) {
    // a gated repository shows its metadata but not its files before the conditions are accepted
    if (error instanceof AuthenticationError) return undefined;
    throw error;
  }
  if (!blob) return undefined;
  try {
    return await blob.text();
  } catch (error) {
    throw client.bodyError(`${client.endpoint}/${id}/resolve/${sha}/${path}`, error, signal);
  }
}

/**
 * The model card's first paragraph: README.md without its YAML front matter, skipping headings,
 * images/badges, HTML, tables, code and link-only lines; whitespace collapsed to one line.
 */
export function cardDescription(readme: string): string | undefined {
  let text = readme.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  const front = /^---\n[\s\S]*?\n(---|\.\.\.)[ \t]*(\n|$)/.exec(text);
  if (front) text = text.slice(front[0].length);
  text = text.replace(/<!--[\s\S]*?-->/g, "").replace(/```[\s\S]*?(```|$)/g, "\n\n");
  for (const block of text.split(/\n[ \t]*\n/)) {
    const raw = block.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
    const setext = (i: number) => /^(={3,}|-{3,})$/.test(raw[i + 1] ?? ""); // "Title" over "====="
    const lines = raw.filter((_, i) => !setext(i)).filter((l) =>
      !/^#{1,6}(\s|$)/.test(l) && // heading
      !/^(!\[|\[!\[)/.test(l) && // image or badge
      !/^<[^>]*>\s*$|^<\/?[a-zA-Z][^>]*>.*<\/[a-zA-Z]+>\s*$/.test(l) && // HTML-only line
      !/^\|/.test(l) && // table
      !/^(-{3,}|\*{3,}|_{3,}|={3,})$/.test(l) // rule / setext underline
    );
    if (lines.length === 0) continue;
    const paragraph = lines.join(" ").replace(/\s+/g, " ").trim();
    if (/^\[[^\]]*\]\([^)]*\)$/.test(paragraph)) continue; // a lone link
    return paragraph.length > 1000 ? paragraph.slice(0, 997) + "..." : paragraph;
  }
  return undefined;
}
