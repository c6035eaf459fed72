/**
 * Starts Azurite's Table service in this process. Used by `npm start`, the tests and the bench, so Table
 * Storage is always the real Azurite, never a fake.
 *
 * Azurite's package `main` is its VS Code extension, so we deep-import the server classes; the constructor is
 * internal API, which is why `azurite` is pinned exactly in package.json.
 */

import path from 'node:path';

// biome-ignore lint/suspicious/noExplicitAny: Azurite ships no types for its deep modules.
type Any = any;

export const AZURITE_ACCOUNT = 'devstoreaccount1';
/** Azurite's well-known development key (public, documented by Microsoft; not a secret). */
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function azuriteConnectionString(host: string, port: number): string {
  return `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};TableEndpoint=http://${host}:${port}/${AZURITE_ACCOUNT};`;
}

export interface AzuriteOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 10002; 0 picks a free port. */
  port?: number;
}

export interface RunningAzurite {
  host: string;
  port: number;
  connectionString: string;
  stop(): Promise<void>;
}

/**
 * Azurite keeps each table in one LokiJS collection with binary indices on PartitionKey and RowKey, and finds a row
 * (every point read, and the existence check of every insert, update, merge and delete) with
 * `findOne({ PartitionKey, RowKey })`. LokiJS narrows by the first key's index only and compares the second key row
 * by row, so each of those costs O(rows in the partition): at 100,000 couplings that was most of the local stack's
 * CPU. Azure Table Storage finds a row by its (PartitionKey, RowKey) index. This lets LokiJS narrow by whichever
 * key's index leaves fewer rows (two binary searches), then test the other key: the same row and the same answers,
 * only the order of two equality tests changes. Installed once per process, on LokiJS as Azurite loads it.
 *
 * The same holds for keeping those indices after a merge or update (see below): at 100,000 couplings the two took
 * about three quarters of the local stack's CPU in a full sync; `docs/benchmarks.md` has the figures.
 */
function indexPointLookups(): void {
  const lokiPath = require.resolve('lokijs', { paths: [path.dirname(require.resolve('azurite/package.json'))] });
  const proto = (require(lokiPath) as Any).Collection.prototype;
  if (proto.findOne.narrowsByTheSmallerIndex) return;
  const findOne = proto.findOne;
  const rows = (collection: Any, key: string, value: string): number => {
    const [from, to] = collection.calculateRange('$eq', key, value) as [number, number];
    return to - from + 1;
  };
  const narrowed = function (this: Any, query: Any) {
    if (
      query !== null &&
      typeof query === 'object' &&
      Object.keys(query).length === 2 &&
      typeof query.PartitionKey === 'string' &&
      typeof query.RowKey === 'string' &&
      this.adaptiveBinaryIndices === true &&
      this.binaryIndices?.PartitionKey &&
      this.binaryIndices?.RowKey &&
      this.data.length > 0 &&
      rows(this, 'RowKey', query.RowKey) < rows(this, 'PartitionKey', query.PartitionKey)
    ) {
      return findOne.call(this, { RowKey: query.RowKey, PartitionKey: query.PartitionKey });
    }
    return findOne.call(this, query);
  };
  narrowed.narrowsByTheSmallerIndex = true;
  proto.findOne = narrowed;
  // A merge or update keeps a row's keys, so its place in both key indices stays right; LokiJS looks for that place
  // by scanning the whole index (O(rows in the table)) and re-inserts it. Look within the run of equal keys first.
  const reindex = proto.adaptiveBinaryIndexUpdate;
  proto.adaptiveBinaryIndexUpdate = function (this: Any, position: number, name: string) {
    if (name === 'PartitionKey' || name === 'RowKey') {
      const index: number[] = this.binaryIndices[name].values;
      const value = this.data[position]?.[name];
      if (typeof value === 'string' && index.length > 0) {
        for (let i = this.calculateRangeStart(name, value, true, false); i < index.length; i++) {
          const at = index[i] as number;
          if (this.data[at]?.[name] !== value) break;
          if (at === position) return;
        }
      }
    }
    reindex.call(this, position, name);
  };
}

export async function startAzurite(opts: AzuriteOptions = {}): Promise<RunningAzurite> {
  const host = opts.host ?? '127.0.0.1';
  indexPointLookups();
  const TableServer: Any = require('azurite/dist/src/table/TableServer').default;
  const TableConfiguration: Any = require('azurite/dist/src/table/TableConfiguration').default;
  // (host, port, keepAliveTimeout, metadataDBPath, enableDebugLog, enableAccessLog, accessLogWriteStream,
  //  debugLogFilePath, loose, skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, isMemoryPersistence)
  const config = new TableConfiguration(
    host,
    opts.port ?? 10002,
    undefined,
    'azurite-unused.json',
    false,
    false,
    undefined,
    undefined,
    false,
    true,
    '',
    '',
    '',
    undefined,
    false,
    true,
  );
  const server: Any = new TableServer(config);
  try {
    await server.start();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') throw new Error(`Azurite Table: port ${opts.port ?? 10002} on ${host} is already in use`);
    throw err;
  }
  const address = new URL(server.getHttpServerAddress() as string);
  const port = Number(address.port);
  return {
    host,
    port,
    connectionString: azuriteConnectionString(host, port),
    stop: async () => {
      await server.close();
    },
  };
}
