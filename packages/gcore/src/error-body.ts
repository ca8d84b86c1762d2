import { truncate } from './redact.js';

/** What a Gcore error body says, whatever shape it came in. */
export interface ErrorBodyDescription {
  /** One readable line; empty when the body said nothing. */
  message: string;
  /** Per-field validation messages from `{"errors": {"field": ["msg"]}}`. */
  fieldErrors?: Record<string, string[]>;
}

/**
 * Reads the error bodies Gcore is known to send: `{"message": …}`, `{"error": …}`,
 * `{"detail": …}` (its Django-style 401s), `{"errors": {"field": ["msg"]}}`, plain text, HTML from a
 * proxy, or nothing.
 */
export function describeErrorBody(text: string): ErrorBodyDescription {
  const trimmed = text.trim();
  if (trimmed === '') return { message: '' };
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    return { message: truncate(plainText(trimmed)) };
  }
  return describeJson(json);
}

function describeJson(json: unknown): ErrorBodyDescription {
  if (typeof json === 'string') return { message: truncate(json) };
  if (Array.isArray(json)) return { message: truncate(json.map(asText).join('; ')) };
  if (json === null || typeof json !== 'object') return { message: truncate(String(json)) };

  const body = json as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of ['message', 'error', 'detail', 'description']) {
    const value = body[key];
    if (value !== undefined && value !== null && value !== '') parts.push(asText(value));
  }

  const fieldErrors = readFieldErrors(body['errors']);
  if (fieldErrors) {
    parts.push(
      Object.entries(fieldErrors)
        .map(([field, messages]) =>
          isGeneral(field) ? messages.join(', ') : `${field}: ${messages.join(', ')}`,
        )
        .join('; '),
    );
  } else if (Array.isArray(body['errors'])) {
    parts.push(body['errors'].map(asText).join('; '));
  } else if (body['errors'] !== undefined && body['errors'] !== null) {
    parts.push(asText(body['errors']));
  }

  const message = parts.length > 0 ? parts.join(' — ') : JSON.stringify(body);
  return fieldErrors ? { message: truncate(message), fieldErrors } : { message: truncate(message) };
}

function readFieldErrors(errors: unknown): Record<string, string[]> | undefined {
  if (errors === null || typeof errors !== 'object' || Array.isArray(errors)) return undefined;
  const out: Record<string, string[]> = {};
  for (const [field, value] of Object.entries(errors)) {
    out[field] = Array.isArray(value) ? value.map(asText) : [asText(value)];
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function isGeneral(field: string): boolean {
  return field === 'base' || field === 'non_field_errors' || field === '__all__';
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && 'message' in value) {
    return asText((value as { message: unknown }).message);
  }
  return JSON.stringify(value);
}

function plainText(text: string): string {
  const withoutTags = text.startsWith('<') ? text.replace(/<[^>]*>/g, ' ') : text;
  return withoutTags.replace(/\s+/g, ' ').trim();
}
