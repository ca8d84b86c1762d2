import { decode, encode, newRecord, pairsToObject } from './record.js';
import { emptyProgress } from './types.js';

const request = {
  description: null,
  filetype: 'video/mp4',
  fields: {},
  callback_url: null,
  via: 'gcore' as const,
};

describe('the job record codec', () => {
  it('stores every field JSON-encoded and reads it back as it was', () => {
    const record = newRecord(
      {
        id: 'a',
        kind: 'upload',
        state: 'ready',
        name: 'clip',
        filename: 'clip.mp4',
        size: 10,
        origin_url: null,
        request: { ...request, callback_url: 'https://tools.example/hook' },
        progress: emptyProgress(),
        owner: 'cms',
        batch: 'b1',
        batch_index: 3,
      },
      '2025-01-01T00:00:00.000Z',
    );
    expect(record).toMatchObject({
      created_at: '2025-01-01T00:00:00.000Z',
      updated_at: '2025-01-01T00:00:00.000Z',
      finished_at: '2025-01-01T00:00:00.000Z',
      callback: { state: 'pending', attempts: 0 },
      batch_index: 3,
      delete_video: false,
    });
    const pairs = encode(record);
    expect(pairs.slice(0, 4)).toEqual(['id', '"a"', 'kind', '"upload"']);
    expect(decode(pairsToObject(pairs))).toEqual(record);
  });

  it('reads a hash as older relays wrote it: fields it lacks are null, internal fields are left out', () => {
    const hash = {
      id: '"old"',
      kind: '"import"',
      state: '"queued"',
      name: '"n"',
      size: 'null',
      request: JSON.stringify(request),
      progress: JSON.stringify(emptyProgress()),
      seq: '7',
      search: '["n"]',
      batch_bytes: '0',
    };
    const record = decode(hash);
    expect(record).toMatchObject({
      id: 'old',
      state: 'queued',
      owner: null,
      callback: null,
      delete_video: false,
    });
    expect(record).not.toHaveProperty('seq');
    expect(record).not.toHaveProperty('search');
  });

  it('leaves undefined fields out and keeps a batch index only with a batch', () => {
    expect(encode({ name: 'x', size: undefined })).toEqual(['name', '"x"']);
    const job = {
      id: 'a',
      kind: 'upload' as const,
      state: 'receiving' as const,
      name: 'n',
      filename: null,
      size: null,
      origin_url: null,
      request,
      progress: emptyProgress(),
      batch_index: 2,
    };
    expect(newRecord(job, '2025-01-01T00:00:00.000Z')).toMatchObject({
      batch: null,
      batch_index: null,
      finished_at: null,
    });
  });
});
