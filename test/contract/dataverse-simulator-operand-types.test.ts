import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DataverseSimulator } from '../../dev/dataverse-simulator';
import { call, startSim } from './dataverse-simulator-helpers';

/**
 * Operand types are checked when the query is parsed, as the Web API's OData parser does: the answer does not
 * depend on whether any row has a value in the column (an empty company must refuse what a full one refuses).
 */
let sim: DataverseSimulator;
beforeAll(async () => {
  sim = await startSim({ seed: 'empty' });
});
afterAll(async () => {
  await sim.stop();
});

it('refuses a choice column compared with a label string, with no row to compare', async () => {
  const r = await call(sim, "accounts?$select=name&$filter=paymenttermscode eq '10 DAYS'");
  expect(r.status).toBe(400);
  expect(r.body.error.message).toBe(
    "The query specified in the URI is not valid. A binary operator with incompatible types was detected. Found operand types 'Edm.Int32' and 'Edm.String' for operator kind 'Equal'.",
  );
  const inList = await call(sim, "accounts?$select=name&$filter=address1_freighttermscode in ('FOB', 'CIF')");
  expect(inList.status).toBe(400);
});

it('compares a choice column by its option value', async () => {
  const r = await call(sim, 'accounts?$select=name&$filter=paymenttermscode eq 1');
  expect(r.status).toBe(200);
});

it('refuses a GUID column compared with quoted text, and takes the GUID literal', async () => {
  const id = '5c1b7a3e-0000-4000-8000-000000000001';
  const quoted = await call(sim, `accounts?$select=name&$filter=accountid eq '${id}'`);
  expect(quoted.status).toBe(400);
  expect(quoted.body.error.message).toMatch(/'Edm\.Guid' and 'Edm\.String'/);
  const lookup = await call(sim, `accounts?$select=name&$filter=_primarycontactid_value eq '${id}'`);
  expect(lookup.status).toBe(400);
  expect((await call(sim, `accounts?$select=name&$filter=accountid eq ${id}`)).status).toBe(200);
  // A text column takes quoted text, GUID-shaped or not.
  expect((await call(sim, `accounts?$select=name&$filter=name eq '${id}'`)).status).toBe(200);
});
