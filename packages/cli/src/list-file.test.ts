import { parseList } from './list-file.js';

describe('parseList', () => {
  it('reads one URL per line, skipping blank lines and # comments, with line numbers', () => {
    const { entries, problems } = parseList(
      '# videos for the launch\n' +
        'https://cdn.example.com/a.mp4\n' +
        '\n' +
        '   \n' +
        '  # indented comment\n' +
        'https://cdn.example.com/b.mov#t=10\n',
    );
    expect(problems).toEqual([]);
    expect(entries).toEqual([
      { line: 2, url: 'https://cdn.example.com/a.mp4' },
      { line: 6, url: 'https://cdn.example.com/b.mov#t=10' },
    ]);
  });

  it('reads CSV url,name[,description] with quoted commas, doubled quotes and line breaks', () => {
    const { entries, problems } = parseList(
      'url,name,description\r\n' +
        'https://x.test/1.mp4,Plain name\r\n' +
        '"https://x.test/2,with-comma.mp4","Name, with comma","He said ""hi"""\r\n' +
        'https://x.test/3.mp4,"Two\nlines",desc\r\n' +
        'https://x.test/4.mp4,,only description\r\n' +
        '  https://x.test/5.mp4 ,  spaced  \r\n',
    );
    expect(problems).toEqual([]);
    expect(entries).toEqual([
      { line: 2, url: 'https://x.test/1.mp4', name: 'Plain name' },
      {
        line: 3,
        url: 'https://x.test/2,with-comma.mp4',
        name: 'Name, with comma',
        description: 'He said "hi"',
      },
      { line: 4, url: 'https://x.test/3.mp4', name: 'Two\nlines', description: 'desc' },
      { line: 6, url: 'https://x.test/4.mp4', description: 'only description' },
      { line: 7, url: 'https://x.test/5.mp4', name: 'spaced' },
    ]);
  });

  it('reports broken lines with their number and carries on', () => {
    const { entries, problems } = parseList(
      '\uFEFFhttps://x.test/1.mp4\n' +
        'https://x.test/2.mp4,a,b,c\n' +
        ',name without url\n' +
        '"https://x.test/3.mp4"junk,name\n' +
        'https://x.test/4.mp4\n' +
        '"https://x.test/5.mp4,never closed\n',
    );
    expect(entries).toEqual([
      { line: 1, url: 'https://x.test/1.mp4' },
      { line: 5, url: 'https://x.test/4.mp4' },
    ]);
    expect(problems).toEqual([
      { line: 2, message: expect.stringContaining('found 4 fields') },
      { line: 3, message: 'no URL in the first field' },
      { line: 4, message: 'unexpected text after a closing quote' },
      { line: 6, message: 'a quoted field is never closed' },
    ]);
  });

  it('treats a first field "url" as a header only on the first record', () => {
    const { entries } = parseList('https://x.test/1.mp4\nurl,name\n');
    expect(entries).toEqual([
      { line: 1, url: 'https://x.test/1.mp4' },
      { line: 2, url: 'url', name: 'name' },
    ]);
  });
});
