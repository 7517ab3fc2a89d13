import { mergeUpstream, MergedDocument } from '../../../src/core/packument-merge';
import { normalizePackument } from '../../../src/core/packument-validate';

const manifest = (version: string) => ({ name: 'p', version, dist: { tarball: `http://up.example/p/-/p-${version}.tgz` } });
const stored = (versions: string[], tags: Record<string, string>): MergedDocument => ({ versions: Object.fromEntries(versions.map((v) => [v, { ...manifest(v), stored: true }])), 'dist-tags': { ...tags } });

describe('mergeUpstream', () => {
  it('adds the versions the upstream added and never replaces a stored one', () => {
    const local = stored(['1.0.0'], { latest: '1.0.0' });
    const result = mergeUpstream(local, { versions: { '1.0.0': manifest('1.0.0'), '1.1.0': manifest('1.1.0') }, 'dist-tags': { latest: '1.1.0' } }, []);
    expect(result).toEqual({ added: ['1.1.0'], removed: [], deprecated: {} });
    expect(local.versions['1.0.0']).toMatchObject({ stored: true });
    expect(local['dist-tags']).toEqual({ latest: '1.1.0' });
  });

  it("follows the upstream's dist-tags back, also off a version it unpublished, and removes that version", () => {
    const local = stored(['2.0.0', '2.0.1'], { latest: '2.0.1', next: '2.0.1' });
    const result = mergeUpstream(local, { versions: { '2.0.0': manifest('2.0.0') }, 'dist-tags': { latest: '2.0.0' } }, ['2.0.1']);
    expect(result).toEqual({ added: [], removed: ['2.0.1'], deprecated: {} });
    expect(Object.keys(local.versions)).toEqual(['2.0.0']);
    expect(local['dist-tags']).toEqual({ latest: '2.0.0' });
  });

  it('keeps a stored version an older copy of the document does not name at all (not unpublished)', () => {
    const local = stored(['1.0.0', '1.1.0'], { latest: '1.1.0' });
    mergeUpstream(local, { versions: { '1.0.0': manifest('1.0.0') }, 'dist-tags': { latest: '1.0.0' } }, []);
    expect(Object.keys(local.versions).sort()).toEqual(['1.0.0', '1.1.0']);
  });

  it('moves a tag to or from a legacy version, which semver cannot compare', () => {
    const local = stored(['1.0.0beta', '1.0.0'], { old: '1.0.0beta', latest: '1.0.0' });
    expect(() => mergeUpstream(local, { versions: { '1.0.0beta': manifest('1.0.0beta'), '1.0.0': manifest('1.0.0'), '2.0.0': manifest('2.0.0') }, 'dist-tags': { old: '1.0.0', latest: '2.0.0' } }, [])).not.toThrow();
    expect(local['dist-tags']).toEqual({ old: '1.0.0', latest: '2.0.0' });
  });

  it("takes a stored version's deprecation from the upstream, and its removal (an empty text), and nothing else of it", () => {
    const local = stored(['1.0.0', '1.1.0', '1.2.0'], { latest: '1.2.0' });
    (local.versions['1.2.0'] as Record<string, unknown>).deprecated = 'old words';
    const up = {
      versions: { '1.0.0': { ...manifest('1.0.0'), deprecated: 'use 2', main: 'other.js' }, '1.1.0': manifest('1.1.0'), '1.2.0': { ...manifest('1.2.0'), deprecated: '' } },
      'dist-tags': { latest: '1.2.0' },
    };
    expect(mergeUpstream(local, up, [])).toEqual({ added: [], removed: [], deprecated: { '1.0.0': 'use 2', '1.2.0': undefined } });
    expect(local.versions['1.0.0']).toEqual({ ...manifest('1.0.0'), stored: true, deprecated: 'use 2' });
    expect(local.versions['1.1.0']).toEqual({ ...manifest('1.1.0'), stored: true });
    expect(local.versions['1.2.0']).toEqual({ ...manifest('1.2.0'), stored: true });
    // The same document again changes nothing.
    expect(mergeUpstream(local, up, []).deprecated).toEqual({});
  });

  it('keeps the stored tags when the upstream sends none, but those naming a removed version', () => {
    const local = stored(['1.0.0', '1.1.0'], { latest: '1.0.0', beta: '1.1.0' });
    mergeUpstream(local, { versions: { '1.0.0': manifest('1.0.0') }, 'dist-tags': {} }, ['1.1.0']);
    expect(local['dist-tags']).toEqual({ latest: '1.0.0' });
  });
});

describe('normalizePackument: unpublished versions', () => {
  it('names the versions its time still has and its versions no longer, not the broken ones it drops, nor time keys that are no versions', () => {
    const doc = {
      name: 'p',
      'dist-tags': { latest: '2.0.0' },
      versions: { '2.0.0': manifest('2.0.0'), '1.5.0': 'broken' },
      time: { created: '2020-01-01T00:00:00.000Z', modified: '2021-01-01T00:00:00.000Z', unpublished: '2021-01-01T00:00:00.000Z', '1.0.0': '2020-01-01T00:00:00.000Z', '1.5.0': '2020-06-01T00:00:00.000Z', '2.0.0': '2021-01-01T00:00:00.000Z', 'bad key': '2020-01-01T00:00:00.000Z' },
    };
    expect(normalizePackument(doc, 'p').unpublished).toEqual(['1.0.0']);
  });
});
