import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveRelayTokens } from './tokens.js';

const none = { tools: [], operators: [], admins: [] };
const mode = async (p: string) => (await fs.stat(p)).mode & 0o777;

describe('the generated relay token', () => {
  let tmp: string;
  let umask: number;
  beforeEach(async () => {
    umask = process.umask(0o000);
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'relay-token-'));
  });
  afterEach(async () => {
    process.umask(umask);
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('is kept 0600 in a 0700 DATA_DIR it creates, whatever the umask', async () => {
    const dataDir = path.join(tmp, 'data');
    const first = await resolveRelayTokens(none, dataDir);
    expect(first.generated).toBe(true);
    expect([await mode(dataDir), await mode(first.file!)]).toEqual([0o700, 0o600]);
    const again = await resolveRelayTokens(none, dataDir);
    expect([again.generated, again.entries[0]?.token]).toEqual([false, first.entries[0]?.token]);
  });

  it('makes a token file an older version left readable private', async () => {
    const file = path.join(tmp, 'relay-token');
    await fs.writeFile(file, 'rt_existing-token-0123456789abcdef\n', { mode: 0o644 });
    const tokens = await resolveRelayTokens(none, tmp);
    expect(tokens.entries[0]?.token).toBe('rt_existing-token-0123456789abcdef');
    expect(await mode(file)).toBe(0o600);
  });
});
