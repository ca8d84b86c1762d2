import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/*
 * Checks real responses against docs/openapi.json: the body against the schema documented for
 * that operation and status, and the status itself against the statuses the operation lists (an
 * undocumented status fails, so the document cannot fall behind the code unnoticed).
 */

export const OPENAPI_FILE = fileURLToPath(new URL('../../../docs/openapi.json', import.meta.url));

type Json = Record<string, unknown>;

interface Header {
  required?: boolean;
  schema?: Json;
}

interface ResponseObject {
  description: string;
  headers?: Record<string, Header | { $ref: string }>;
  content?: Record<string, { schema?: Json }>;
}

interface Operation {
  responses: Record<string, ResponseObject | { $ref: string }>;
  parameters?: Json[];
  requestBody?: { content: Record<string, { schema?: Json }> };
}

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation | Json[] | string>>;
  webhooks?: Record<string, Json>;
  components: Record<string, Record<string, unknown>>;
}

export const spec = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as OpenApiDocument;

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const DOC_ID = 'urn:gcore-tus-relay:openapi';

/** One validator over the whole document, so `#/components/...` references resolve as written. */
function createAjv() {
  const ajv = new Ajv2020.default({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats.default(ajv);
  // The document's top-level fields are not JSON Schema keywords; declared so strict mode lets them be.
  ajv.addVocabulary(['openapi', 'info', 'servers', 'paths', 'webhooks', 'components', 'tags', 'security']);
  ajv.addSchema({ ...spec, $id: DOC_ID });
  return ajv;
}

const ajv = createAjv();

/** A JSON pointer as a URI fragment (Ajv decodes it so): `{id}` must be percent-encoded. */
const pointer = (...parts: string[]) =>
  parts.map((p) => `/${encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))}`).join('');

function deref<T>(value: T | { $ref: string }): T {
  let current: unknown = value;
  for (let hops = 0; hops < 10; hops++) {
    const ref = (current as { $ref?: unknown }).$ref;
    if (typeof ref !== 'string') return current as T;
    if (!ref.startsWith('#/')) throw new Error(`only local references are supported, not ${ref}`);
    current = ref
      .slice(2)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((node, key) => (node as Json | undefined)?.[key], spec);
    if (current === undefined) throw new Error(`${ref} is not in docs/openapi.json`);
  }
  throw new Error('reference loop in docs/openapi.json');
}

/** Which statuses an operation documents, as written (`200`, `4XX`, `default`). */
export function documentedStatuses(method: string, pathTemplate: string): string[] {
  return Object.keys(operationOf(method, pathTemplate).responses);
}

function operationOf(method: string, pathTemplate: string): Operation {
  const item = spec.paths[pathTemplate];
  if (!item) {
    throw new Error(
      `${pathTemplate} is not a path in docs/openapi.json (it has ${Object.keys(spec.paths).join(', ')})`,
    );
  }
  const operation = item[method.toLowerCase()];
  if (!operation || typeof operation !== 'object' || Array.isArray(operation)) {
    throw new Error(`${method.toUpperCase()} ${pathTemplate} is not documented in docs/openapi.json`);
  }
  return operation as Operation;
}

/** The documented path a concrete request path falls under (`/api/jobs/abc` → `/api/jobs/{id}`). */
export function pathTemplateOf(requestPath: string): string {
  const pathname = requestPath.split('?')[0]!;
  // TUS answers with and without the trailing slash; the document spells it `/files/`.
  const path = pathname === '/files' ? '/files/' : pathname;
  const templates = Object.keys(spec.paths).sort(
    (a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0),
  );
  for (const template of templates) {
    const source = template
      .split(/(\{[^}]+\})/)
      .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
      .join('');
    if (new RegExp(`^${source}$`).test(path)) return template;
  }
  throw new Error(`no path in docs/openapi.json matches ${pathname}`);
}

const validators = new Map<string, ReturnType<typeof ajv.compile>>();

function validatorAt(ref: string) {
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.getSchema(`${DOC_ID}#${ref}`);
    if (!validate) throw new Error(`no schema at ${ref}`);
    validators.set(ref, validate);
  }
  return validate;
}

/** Operations checked so far in this test file, as `METHOD template status`. */
export const checkedResponses = new Set<string>();

export interface SpecCheckOptions {
  /** Response headers (any case); when given, the content type and required headers are checked too. */
  headers?: Record<string, string | string[] | undefined>;
}

/**
 * Fails (throws, with a message that says what differs) unless `status` is documented for the
 * operation and `body` matches the schema documented for it. For JSON responses `body` is the
 * parsed body; for others it is the text (an empty string when there is none).
 */
export function expectResponseMatchesSpec(
  method: string,
  pathTemplate: string,
  status: number,
  body: unknown,
  options: SpecCheckOptions = {},
): void {
  const verb = method.toLowerCase();
  const where = `${verb.toUpperCase()} ${pathTemplate} → ${status}`;
  const operation = operationOf(verb, pathTemplate);
  const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => k in operation.responses);
  if (!key) {
    throw new Error(
      `${where} is not documented in docs/openapi.json (it lists ${Object.keys(operation.responses).join(', ')}); ` +
        `body: ${excerpt(body)}`,
    );
  }
  const response = deref(operation.responses[key]!);
  const headers = lowerCased(options.headers);
  const problems: string[] = [];

  if (headers) {
    for (const [name, declared] of Object.entries(response.headers ?? {})) {
      const header = deref(declared);
      const value = headers[name.toLowerCase()];
      if (value === undefined) {
        if (header.required) problems.push(`the required header ${name} is missing`);
        continue;
      }
      const schema = header.schema ?? {};
      if (schema.type === 'integer' && !/^-?\d+$/.test(value))
        problems.push(`${name}: "${value}" is not an integer`);
      if (schema.const !== undefined && String(schema.const) !== value) {
        problems.push(`${name}: "${value}" is not "${String(schema.const)}"`);
      }
    }
  }

  const content = response.content ?? {};
  const types = Object.keys(content);
  // A HEAD response never has a body, whatever a GET would carry.
  if (verb !== 'head') {
    if (types.length === 0) {
      if (body !== undefined && body !== '' && body !== null) {
        problems.push(`no body is documented, but it answered ${excerpt(body)}`);
      }
    } else {
      const sent = headers?.['content-type']?.split(';')[0]?.trim().toLowerCase();
      const type = sent
        ? types.find((t) => t === sent)
        : (types.find((t) => t === 'application/json') ?? types[0]);
      if (!type) {
        problems.push(`Content-Type ${sent} is not documented (documented: ${types.join(', ')})`);
      } else if (type === 'application/json' || type.endsWith('+json')) {
        const ref = pointer('paths', pathTemplate, verb, 'responses', key, 'content', type, 'schema');
        const schemaRef = (operation.responses[key] as { $ref?: string }).$ref
          ? `${(operation.responses[key] as { $ref: string }).$ref.slice(1)}${pointer('content', type, 'schema')}`
          : ref;
        const validate = validatorAt(schemaRef);
        if (!validate(body)) {
          problems.push(
            ...(validate.errors ?? []).map(
              (e) => `body${e.instancePath} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
            ),
          );
        }
      } else if (typeof body !== 'string') {
        problems.push(`a ${type} body should be text, got ${excerpt(body)}`);
      }
    }
  }

  if (problems.length > 0) {
    throw new Error(
      `${where} does not match docs/openapi.json:\n  ${problems.join('\n  ')}\nbody: ${excerpt(body)}`,
    );
  }
  checkedResponses.add(`${verb.toUpperCase()} ${pathTemplate} ${status}`);
}

/** What a supertest (superagent) response carries that the check needs. */
export interface SupertestLike {
  status: number;
  body: unknown;
  text?: string;
  headers: Record<string, string | string[] | undefined>;
  request: { method: string; url: string };
}

/**
 * The check for a supertest response: method and path come from the request it answers, so
 * `expectSpec(await request(app).get('/api/jobs/abc'))` checks it against `GET /api/jobs/{id}`.
 * Returns the response, for chaining.
 */
export function expectSpec<T extends SupertestLike>(res: T): T {
  const type = String(res.headers['content-type'] ?? '');
  const json = /[/+]json\b/.test(type);
  const path = new URL(res.request.url, 'http://relay').pathname;
  expectResponseMatchesSpec(
    res.request.method,
    pathTemplateOf(path),
    res.status,
    json ? res.body : (res.text ?? ''),
    {
      headers: res.headers,
    },
  );
  return res;
}

/** Fails unless a callback request (the `jobFinished` webhook) is what the document promises. */
export function expectCallbackMatchesSpec(
  headers: Record<string, string | string[] | undefined>,
  body: unknown,
): void {
  const lower = lowerCased(headers) ?? {};
  const operation = deref(spec.webhooks?.jobFinished as Json) as unknown as { post: Operation };
  const problems: string[] = [];
  for (const parameter of (operation.post.parameters ?? []).map((p) => deref(p) as Json)) {
    if (parameter.in !== 'header') continue;
    const name = String(parameter.name);
    const value = lower[name.toLowerCase()];
    if (value === undefined) {
      if (parameter.required) problems.push(`the required header ${name} is missing`);
      continue;
    }
    const schema = (parameter.schema ?? {}) as Json;
    if (Array.isArray(schema.enum) && !schema.enum.includes(value))
      problems.push(`${name}: "${value}" is not one of ${schema.enum.join(', ')}`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) {
      problems.push(`${name}: "${value}" does not match ${schema.pattern}`);
    }
  }
  const validate = validatorAt(pointer('components', 'schemas', 'Job'));
  if (!validate(body)) {
    problems.push(...(validate.errors ?? []).map((e) => `body${e.instancePath} ${e.message}`));
  }
  if (problems.length > 0) {
    throw new Error(
      `the callback does not match docs/openapi.json:\n  ${problems.join('\n  ')}\nbody: ${excerpt(body)}`,
    );
  }
}

/** Compiles every schema in the document with strict Ajv: a typo in a keyword fails here. */
export function compileEverySchema(): string[] {
  const compiled: string[] = [];
  for (const name of Object.keys(spec.components.schemas ?? {})) {
    validatorAt(pointer('components', 'schemas', name));
    compiled.push(`#/components/schemas/${name}`);
  }
  for (const [name, response] of Object.entries(spec.components.responses ?? {})) {
    for (const type of Object.keys((response as ResponseObject).content ?? {})) {
      validatorAt(pointer('components', 'responses', name, 'content', type, 'schema'));
      compiled.push(`#/components/responses/${name} ${type}`);
    }
  }
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const verb of HTTP_METHODS) {
      const operation = item[verb] as Operation | undefined;
      if (!operation) continue;
      for (const [status, response] of Object.entries(operation.responses)) {
        if ('$ref' in response) continue;
        for (const type of Object.keys(response.content ?? {})) {
          if (!response.content?.[type]?.schema) continue;
          validatorAt(pointer('paths', path, verb, 'responses', status, 'content', type, 'schema'));
          compiled.push(`${verb.toUpperCase()} ${path} ${status} ${type}`);
        }
      }
    }
  }
  return compiled;
}

function lowerCased(
  headers: Record<string, string | string[] | undefined> | undefined,
): Record<string, string> | undefined {
  if (!headers) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function excerpt(body: unknown): string {
  const text = typeof body === 'string' ? JSON.stringify(body) : (JSON.stringify(body) ?? String(body));
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}
