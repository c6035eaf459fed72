/**
 * Strips secrets from values before they are stored (errors table) or shown (admin page). The errors table
 * keeps "the values involved" for diagnosis, and those can contain a webhook key, a connection string or a
 * bearer token copied from a request; none of that may land in storage.
 */

export const REDACTED = '[redacted]';

/**
 * Property names that hold secrets: secret, password, token, authorization, credential, cookie, any `…key`, BC's
 * webhook `clientState` (it proves a notification came from our subscription) and Dataverse's `authvalue` (the
 * service endpoint's webhook key, or the header settings carrying it).
 */
const SECRET_NAME =
  /secret|passw(?:or)?d|^pwd$|token|authori[sz]ation|credential|cookie|signature|clientstate|authvalue|key$|^key[-_]|[-_]key[-_]/i;

const SECRET_TEXT: Array<[RegExp, string]> = [
  // Connection strings and query strings: AccountKey=…, SharedAccessKey=…, Password=…, sig=…, client_secret=…
  [/\b(AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|ClientSecret|client_secret)=([^;&\s"']+)/gi, `$1=${REDACTED}`],
  // Function keys, the Dataverse webhook key (`?webhookkey=`, HttpQueryString auth) and SAS signatures in URLs.
  [/([?&](?:code|sig|client_secret|access_token|clientState|webhookkey)=)[^&\s"']+/gi, `$1${REDACTED}`],
  // A serialized service endpoint (`"authvalue":"…"`) or the header Dataverse sends the key in.
  [/("?authvalue"?\s*[:=]\s*"?)[^"&\s,}]+/gi, `$1${REDACTED}`],
  [/(x-dataverse-webhook-key["']?\s*[:=]\s*["']?)[^"'\s,;&}]+/gi, `$1${REDACTED}`],
  [/\bBearer\s+[A-Za-z0-9._~+/-]+=*/g, `Bearer ${REDACTED}`],
  [/\bBasic\s+[A-Za-z0-9+/]{8,}=*/g, `Basic ${REDACTED}`],
  // A JWT anywhere in a text, with or without a scheme in front.
  [/\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, REDACTED],
];

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Masks credentials inside free text (error messages, URLs, connection strings). */
export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_TEXT) out = out.replace(pattern, replacement);
  return out;
}

/**
 * A deep copy of `value` with every property named like a secret replaced by `[redacted]` and credentials
 * inside strings masked. Cycles and nesting beyond 20 levels are cut rather than followed.
 */
export function redact<T>(value: T): T {
  return walk(value, new WeakSet(), 0) as T;
}

function walk(value: unknown, seen: WeakSet<object>, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date) return value;
  if (seen.has(value) || depth > 20) return '[cut]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => walk(v, seen, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretName(k) && v !== null && v !== undefined && v !== '' ? REDACTED : walk(v, seen, depth + 1);
  }
  return out;
}
