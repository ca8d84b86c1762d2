/**
 * The one shape Gcore documents for `origin_http_headers`: a single `Authorization` header.
 *
 * G-Core/product-documentation `api-reference/services_docs_mintlify/streaming_api.yaml`,
 * `components.schemas.createVideo.properties.origin_http_headers`: "Authorization HTTP request
 * header. Will be used as credentials to authenticate a request to download a file (specified in
 * "origin_url" parameter) on an external server. Syntax: `Authorization: <auth-scheme>
 * <authorization-parameters>`", with the examples `Authorization: Basic ...`, `Authorization:
 * Bearer ...`, `Authorization: APIKey ...` (the same text in G-Core/gcore-python
 * `types/streaming/video_create_params.py`). Nothing there says Gcore sends other header names or
 * several lines, so the relay takes exactly this and nothing else: a pre-flight that sent more than
 * Gcore will could pass where Gcore's own download then fails.
 *
 * The scheme is an RFC 9110 token; the parameters are visible characters and spaces, at least one.
 * The header name is matched case-insensitively, as HTTP header names are.
 */
export const ORIGIN_AUTHORIZATION =
  /^authorization:[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]+([\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)$/i;

/** The message a field that is not {@link ORIGIN_AUTHORIZATION} is refused with. */
export const ORIGIN_HTTP_HEADERS_SHAPE =
  'must be one "Authorization: <scheme> <credentials>" header (e.g. "Authorization: Bearer abc"), the only form Gcore documents for origin_http_headers: no other header names, no second line';

/** Whether `text` is the one `Authorization: <scheme> <params>` header Gcore takes. */
export function isOriginAuthorization(text: string): boolean {
  return ORIGIN_AUTHORIZATION.test(text.trim());
}

/**
 * `origin_http_headers` as the request headers Gcore will send with its download of `origin_url`:
 * `{ authorization: "<scheme> <params>" }`, or none. The relay's own requests to the origin
 * (pre-flight, `via: "relay"` download) use it so that they ask exactly the way Gcore will. A value
 * of any other shape gives no headers; requests validate it first (parseVideoRequest), so none
 * reaches here.
 */
export function originRequestHeaders(text: string | null | undefined): Record<string, string> {
  const match = ORIGIN_AUTHORIZATION.exec((text ?? '').trim());
  return match ? { authorization: `${match[1]} ${match[2]}` } : {};
}
