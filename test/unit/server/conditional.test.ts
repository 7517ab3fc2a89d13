import { acceptsGzip, etagMatches } from '../../../src/server/http/conditional';

describe('etagMatches (If-None-Match)', () => {
  const tag = '"abc"';
  it.each([
    ['"abc"', true],
    ['W/"abc"', true],
    ['"x", "abc"', true],
    ['"x",W/"abc" ', true],
    ['*', true],
    ['"x", *', true],
    ['"abcd"', false],
    ['abc', false],
    ['', false],
    ['"x", "y"', false],
  ])('%j against "abc": %s', (header, expected) => {
    expect(etagMatches(header, tag)).toBe(expected);
  });

  it('compares a weak tag of the response weakly too, and never matches without a header or a tag', () => {
    expect(etagMatches('"abc"', 'W/"abc"')).toBe(true);
    expect(etagMatches(undefined, tag)).toBe(false);
    expect(etagMatches('*', '')).toBe(false);
  });
});

describe('acceptsGzip (Accept-Encoding)', () => {
  it.each([
    ['gzip', true],
    ['gzip, deflate, br', true],
    ['br, GZIP', true],
    ['x-gzip', true],
    ['gzip;q=0', false],
    ['gzip; q=0.000, deflate', false],
    ['deflate, gzip;q=0.5', true],
    ['*', true],
    ['br, *', true],
    ['*;q=1, br', true],
    ['*;q=0.1, gzip;q=0', false],
    ['identity', false],
    ['deflate;q=1', false],
    ['gzip;q=abc', false],
    ['', false],
  ])('%j: %s', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });

  it('is false without a header', () => {
    expect(acceptsGzip(undefined)).toBe(false);
  });
});
