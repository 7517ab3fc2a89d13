import { GatekeeperError } from '../../../src/core/errors';
import { fromVerdaccio } from '../../../src/server/registry/routes';

const asOurs = (err: unknown) => fromVerdaccio(err) as GatekeeperError;

describe("Verdaccio's refusals as ours", () => {
  it.each([
    [409, 'this package is already present', 'ECONFLICT', 'this package is already present. Read the package again (npm view) and retry; a published version is never replaced, so publish a new one'],
    [404, "this version doesn't exist", 'ENOTFOUND', "this version doesn't exist. Check the name and version (npm view <name> versions lists them)"],
    [400, 'bad incoming package data.', 'EVALIDATION', 'bad incoming package data. Check what the client sent: npm, pnpm, yarn and bun send what this registry takes'],
    [415, 'wrong content-type', 'EUNSUPPORTEDMEDIATYPE', 'wrong content-type. Send JSON with Content-Type: application/json'],
    [503, 'uplink is offline', 'EUPSTREAM', 'uplink is offline. Try again later; the server log has the details'],
  ])('%i %j gets a code and a next step', (status, message, code, text) => {
    const err = asOurs({ status, message });
    expect([err.code, err.message]).toEqual([code, text]);
  });

  it('keeps a message that already says what to do, and a [CODE] of our plugins', () => {
    expect(asOurs({ status: 409, message: 'it exists. Publish another version' }).message).toBe('it exists. Publish another version');
    const coded = asOurs({ status: 403, message: '[ENOTAPPROVED] left-pad@1.0.0 is not approved. Request it' });
    expect([coded.code, coded.message]).toEqual(['ENOTAPPROVED', 'left-pad@1.0.0 is not approved. Request it']);
  });

  it('leaves what is not an HTTP refusal alone', () => {
    const plain = new Error('boom');
    expect(fromVerdaccio(plain)).toBe(plain);
    const ours = new GatekeeperError('EBANNED', 'x');
    expect(fromVerdaccio(ours)).toBe(ours);
  });
});
