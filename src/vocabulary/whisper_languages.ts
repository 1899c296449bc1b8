/**
 * Whisper's languages by code and name, as openai-whisper and transformers' WhisperTokenizer list them: the name
 * is what OpenAI's `verbose_json` answers in `language` ("english"), and what a user may type for `--language`
 * ("English", "Mandarin") as openai-whisper's CLI accepts it. A checkpoint knows the codes it has tokens for
 * (`<|en|>`); this table only translates.
 *
 * @module
 */

/** Code → lower-case English name, in Whisper's token order (100 languages; `yue` arrived with large-v3). */
export const WHISPER_LANGUAGE_NAMES: Readonly<Record<string, string>> = {
  en: "english",
  zh: "chinese",
  de: "german",
  es: "spanish",
  ru: "russian",
  ko: "korean",
  fr: "french",
  ja: "japanese",
  pt: "portuguese",
  tr: "turkish",
  pl: "polish",
  ca: "catalan",
  nl: "dutch",
  ar: "arabic",
  sv: "swedish",
  it: "italian",
  id: "indonesian",
  hi: "hindi",
  fi: "finnish",
  vi: "vietnamese",
  he: "hebrew",
  uk: "ukrainian",
  el: "greek",
  ms: "malay",
  cs: "czech",
  ro: "romanian",
  da: "danish",
  hu: "hungarian",
  ta: "tamil",
  no: "norwegian",
  th: "thai",
  ur: "urdu",
  hr: "croatian",
  bg: "bulgarian",
  lt: "lithuanian",
  la: "latin",
  mi: "maori",
  ml: "malayalam",
  cy: "welsh",
  sk: "slovak",
  te: "telugu",
  fa: "persian",
  lv: "latvian",
  bn: "bengali",
  sr: "serbian",
  az: "azerbaijani",
  sl: "slovenian",
  kn: "kannada",
  et: "estonian",
  mk: "macedonian",
  br: "breton",
  eu: "basque",
  is: "icelandic",
  hy: "armenian",
  ne: "nepali",
  mn: "mongolian",
  bs: "bosnian",
  kk: "kazakh",
  sq: "albanian",
  sw: "swahili",
  gl: "galician",
  mr: "marathi",
  pa: "punjabi",
  si: "sinhala",
  km: "khmer",
  sn: "shona",
  yo: "yoruba",
  so: "somali",
  af: "afrikaans",
  oc: "occitan",
  ka: "georgian",
  be: "belarusian",
  tg: "tajik",
  sd: "sindhi",
  gu: "gujarati",
  am: "amharic",
  yi: "yiddish",
  lo: "lao",
  uz: "uzbek",
  fo: "faroese",
  ht: "haitian creole",
  ps: "pashto",
  tk: "turkmen",
  nn: "nynorsk",
  mt: "maltese",
  sa: "sanskrit",
  lb: "luxembourgish",
  my: "myanmar",
  bo: "tibetan",
  tl: "tagalog",
  mg: "malagasy",
  as: "assamese",
  tt: "tatar",
  haw: "hawaiian",
  ln: "lingala",
  ha: "hausa",
  ba: "bashkir",
  jw: "javanese",
  su: "sundanese",
  yue: "cantonese",
};

/** Other names openai-whisper accepts for a language. */
const ALIASES: Readonly<Record<string, string>> = {
  burmese: "my",
  valencian: "ca",
  flemish: "nl",
  haitian: "ht",
  letzeburgesch: "lb",
  pushto: "ps",
  panjabi: "pa",
  moldavian: "ro",
  moldovan: "ro",
  sinhalese: "si",
  castilian: "es",
  mandarin: "zh",
};

const BY_NAME: ReadonlyMap<string, string> = new Map([
  ...Object.entries(WHISPER_LANGUAGE_NAMES).map(([code, name]) => [name, code] as [string, string]),
  ...Object.entries(ALIASES),
]);

/**
 * The code of a language given by its name (any case: "English", "haitian creole", "Mandarin"), or undefined when
 * `name` is not one of Whisper's names.
 *
 * @example
 * ```ts
 * whisperLanguageCode("English"); // "en"
 * ```
 */
export function whisperLanguageCode(name: string): string | undefined {
  return BY_NAME.get(name.trim().toLowerCase());
}

/** The name OpenAI's API answers for a code ("en" → "english"); the code itself when the table has no name for it. */
export function whisperLanguageName(code: string): string {
  return WHISPER_LANGUAGE_NAMES[code] ?? code;
}
