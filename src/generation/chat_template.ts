/**
 * Chat templates: the Jinja program a model ships to turn a conversation into its prompt text, rendered
 * with `@huggingface/jinja` (Hugging Face's JavaScript Jinja for chat templates, the one transformers.js
 * uses). The template comes from `chat_template.jinja` or tokenizer_config.json `chat_template` (a string,
 * or a list of named templates: `default` unless another name is asked for). Variables: `messages`,
 * `add_generation_prompt`, `bos_token`, `eos_token`, `tools`, and any extra ones (`enable_thinking`).
 *
 * @module
 */
import { Template } from "@huggingface/jinja";
import { InputError } from "../errors.ts";
import type { ModelFiles } from "../processing/model_files.ts";

/** One message of a conversation. */
export interface ChatMessage {
  /** `system`, `user`, `assistant` or `tool`. */
  role: string;
  /** The message text. */
  content: string;
  /** Any other field the template reads (`tool_calls`, `name`, `reasoning_content`). */
  [key: string]: unknown;
}

/** Variables of one rendering beyond the messages. */
export interface ChatTemplateOptions {
  /** End the prompt with the assistant's turn opener (default true). */
  addGenerationPrompt?: boolean;
  /** Tool definitions (JSON schema objects), for templates that list tools. */
  tools?: unknown[];
  /** Extra template variables (`{ enable_thinking: false }`). */
  variables?: Record<string, unknown>;
}

/** A model's chat template, parsed once. */
export class ChatTemplate {
  /** The template source. */
  readonly source: string;
  /** Where it came from (`chat_template.jinja`, `tokenizer_config.json`, or `tokenizer_config.json#name`). */
  readonly origin: string;
  #template: Template;
  #specials: Record<string, string>;

  /** Parses `source`; `specials` holds `bos_token`/`eos_token`/… strings. */
  constructor(source: string, origin: string, specials: Record<string, string> = {}) {
    this.source = source;
    this.origin = origin;
    this.#specials = specials;
    try {
      this.#template = new Template(source);
    } catch (error) {
      throw new InputError(`the chat template in ${origin} does not parse: ${(error as Error).message}`, {
        cause: error,
        hint: "fix the template, or generate without it (--raw-prompt)",
      });
    }
  }

  /** Renders a conversation to prompt text. */
  render(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    const variables: Record<string, unknown> = {
      ...this.#specials,
      ...options.variables,
      // OpenAI's null content beside tool_calls: the JavaScript Jinja cannot operate on null, "" renders the same
      messages: messages.map((m) => m.content === null ? { ...m, content: "" } : m),
      add_generation_prompt: options.addGenerationPrompt ?? true,
    };
    if (options.tools) variables.tools = options.tools;
    try {
      return this.#template.render(variables);
    } catch (error) {
      throw new InputError(`the chat template (${this.origin}) failed: ${(error as Error).message}`, {
        cause: error,
        hint: "check the messages (roles, order) and template variables, or use --raw-prompt",
      });
    }
  }
}

function tokenText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as Record<string, unknown>).content === "string") {
    return String((v as Record<string, unknown>).content);
  }
  return undefined;
}

/**
 * The chat template of a model, or undefined when it has none (plain completion). `name` picks one of
 * a list of named templates (default `default`).
 *
 * @throws {InputError} the template does not parse, or the named template is not in the list.
 */
export async function loadChatTemplate(files: ModelFiles, name?: string): Promise<ChatTemplate | undefined> {
  const config = (await files.readJsonIfPresent("tokenizer_config.json") ?? {}) as Record<string, unknown>;
  const specials: Record<string, string> = {};
  for (const key of ["bos_token", "eos_token", "pad_token", "unk_token"]) {
    const text = tokenText(config[key]);
    if (text !== undefined) specials[key] = text;
  }
  const jinja = await files.readTextIfPresent("chat_template.jinja");
  if (jinja !== undefined && !name) return new ChatTemplate(jinja, "chat_template.jinja", specials);
  const value = config.chat_template;
  if (typeof value === "string" && !name) return new ChatTemplate(value, "tokenizer_config.json", specials);
  if (Array.isArray(value)) {
    const named = value.filter((t): t is { name: string; template: string } =>
      t && typeof t === "object" && typeof t.name === "string" && typeof t.template === "string"
    );
    const wanted = name ?? "default";
    const found = named.find((t) => t.name === wanted);
    if (!found) {
      if (!name) return undefined;
      throw new InputError(`the model has no chat template named ${JSON.stringify(name)}`, {
        hint: `use one of: ${named.map((t) => t.name).join(", ")}`,
      });
    }
    return new ChatTemplate(found.template, `tokenizer_config.json#${found.name}`, specials);
  }
  if (name) throw new InputError(`the model has no chat template named ${JSON.stringify(name)}`);
  return undefined;
}
