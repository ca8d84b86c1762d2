import type { Principal } from '@gtr/core';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';
import { principalOf } from '../auth.js';

/** The Node request and response behind the Request srvx made for @tus/server. */
const nodeOf = (req: Request) =>
  (req as Request & { runtime?: { node?: { req?: ExpressRequest; res?: ExpressResponse } } }).runtime?.node;

/** The Node (Express) request behind a Request srvx made for @tus/server. */
export const nodeRequestOf = (req: Request): ExpressRequest | undefined => nodeOf(req)?.req;

/** The principal of the Express response behind the Request srvx made for @tus/server. */
export function principalOfTusRequest(req: Request): Principal | undefined {
  const res = nodeOf(req)?.res;
  return res ? principalOf(res) : undefined;
}

/** Takes a request header off before @tus/server reads it (it reads `rawHeaders` too). */
export function removeHeader(req: ExpressRequest, name: string): void {
  delete req.headers[name];
  const raw: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() !== name) raw.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  }
  req.rawHeaders = raw;
}
