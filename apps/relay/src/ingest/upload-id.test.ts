import type { IncomingMessage } from 'node:http';
import {
  uploadIdOfReference,
  uploadIdOfRequest,
  uploadTargetOf,
  uploadTargetOfRequest,
} from './upload-id.js';

const ID = '0123456789abcdef0123456789abcdef';

describe('uploadTargetOf: the one rule for which upload a request names', () => {
  it('takes exactly /files/<id>, with or without a query', () => {
    expect(uploadTargetOf(`/files/${ID}`)).toEqual({ kind: 'upload', id: ID });
    expect(uploadTargetOf(`/files/${ID}?x=1`)).toEqual({ kind: 'upload', id: ID });
    expect(uploadTargetOf(`/files/${ID}?`)).toEqual({ kind: 'upload', id: ID });
  });

  it('takes /files and /files/ (with a query too) as the creation endpoint', () => {
    for (const target of ['/files', '/files/', '/files?a=b', '/files/?a=b', `/files/?/${ID}`]) {
      expect([target, uploadTargetOf(target)]).toEqual([target, { kind: 'creation' }]);
    }
  });

  it.each([
    `/files/${ID}/`,
    `/files/${ID}//`,
    `/FILES/${ID}`,
    `/Files/${ID}`,
    `/files//${ID}`,
    `//files/${ID}`,
    `/files/x/${ID}`,
    `/files/./${ID}`,
    `/files/../files/${ID}`,
    `/files/${ID}/.`,
    `/files/${ID}/x`,
    `/files%2F${ID}`,
    `/files/%2F${ID}`,
    `/files/${ID}%2F`,
    `/files/%2e/${ID}`,
    `/files/%2E%2E/files/${ID}`,
    `/files/%30${ID.slice(1)}`,
    `/files/${ID};x=1`,
    `/files/${ID}#x`,
    `/files/${ID}%3F`,
    `/files\\${ID}`,
    `/files/\\${ID}`,
    `/files/${ID.toUpperCase()}`,
    `/files/${ID}x`,
    `/files/x${ID}`,
    `/files/${ID.slice(1)}`,
    `/files/${ID}.json`,
    `/files/\u0660${ID.slice(1)}`,
    `/files/${ID}\t`,
    `/files/ ${ID}`,
    `/files/${ID}%00`,
    `http://relay/files/${ID}`,
    `/files/`.padEnd(40, '/'),
    '/filesx',
    '',
    '*',
  ])('names no upload in %j', (target) => {
    expect(uploadTargetOf(target)).toEqual({ kind: 'none' });
  });

  it("derives a request's target once, from its original URL", () => {
    const req = { url: `/files/${ID}`, originalUrl: `/files/${ID}` } as IncomingMessage & {
      originalUrl: string;
    };
    expect(uploadIdOfRequest(req)).toBe(ID);
    // Express shortens req.url under a mount: the id stays the one the request came with.
    req.url = '/';
    req.originalUrl = '/elsewhere';
    expect(uploadTargetOfRequest(req)).toEqual({ kind: 'upload', id: ID });
    const creation = { url: '/files/' } as IncomingMessage;
    expect([uploadTargetOfRequest(creation), uploadIdOfRequest(creation)]).toEqual([
      { kind: 'creation' },
      null,
    ]);
  });
});

describe('uploadIdOfReference: the partials of Upload-Concat: final', () => {
  it('takes the path, or an absolute URL whose path is it, maybe under PUBLIC_URL’s path', () => {
    expect(uploadIdOfReference(`/files/${ID}`)).toBe(ID);
    expect(uploadIdOfReference(`http://127.0.0.1:8080/files/${ID}`)).toBe(ID);
    expect(uploadIdOfReference(`HTTPS://relay.example.com/files/${ID}`)).toBe(ID);
    expect(uploadIdOfReference(`https://relay.example.com/video-relay/files/${ID}`, '/video-relay')).toBe(ID);
    expect(uploadIdOfReference(`/video-relay/files/${ID}`, '/video-relay')).toBe(ID);
  });

  it.each([
    `/files/${ID}/`,
    `/FILES/${ID}`,
    `/files//${ID}`,
    `/files/./${ID}`,
    `/files/%2e/${ID}`,
    `https://relay.example.com/files/./${ID}`,
    `https://relay.example.com/video-relay/files/${ID}`,
    `https://relay.example.com/other/files/${ID}`,
    `https://relay.example.com\\files/${ID}`,
    `https://relay.example.com/files/${ID}#x`,
    `ftp://relay.example.com/files/${ID}`,
    `//relay.example.com/files/${ID}`,
    `files/${ID}`,
    ID,
    'http://',
    '',
  ])('names no upload in %j (without PUBLIC_URL’s path)', (reference) => {
    expect(uploadIdOfReference(reference)).toBeNull();
  });

  it('does not take a path outside PUBLIC_URL’s path for one under it', () => {
    expect(uploadIdOfReference(`/video-relay/x/files/${ID}`, '/video-relay')).toBeNull();
    expect(uploadIdOfReference(`/video-relayx/files/${ID}`, '/video-relay')).toBeNull();
  });
});
