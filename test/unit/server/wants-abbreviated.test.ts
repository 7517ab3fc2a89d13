/**
 * Which packument a request asks for: the abbreviated one only when its first media type is
 * npm's install-v1 type, with or without parameters and surrounding spaces.
 */
import { wantsAbbreviated } from '../../../src/server/registry/gate';

describe('wantsAbbreviated', () => {
  it.each([
    ['application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*', true],
    ['application/vnd.npm.install-v1+json', true],
    ['  application/vnd.npm.install-v1+json ; q=1.0', true],
    ['application/vnd.npm.install-v1+json , application/json', true],
    ['application/vnd.npm.install-v1+jsonx', false],
    ['application/json, application/vnd.npm.install-v1+json', false],
    [', application/vnd.npm.install-v1+json', false],
    ['application/json', false],
    ['*/*', false],
    ['', false],
    [undefined, false],
  ])('%j → %s', (accept, expected) => {
    expect(wantsAbbreviated(accept)).toBe(expected);
  });
});
