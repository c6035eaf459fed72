import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DataverseSimulator, type DataverseSimulatorOptions, startDataverseSimulator } from '../../dev/dataverse-simulator';

/** Contract tests talk to the simulator with plain fetch only, like any Dataverse client would. */
export async function startSim(opts: DataverseSimulatorOptions = {}): Promise<DataverseSimulator> {
  return startDataverseSimulator({ port: 0, webhookDelayMs: 20, ...opts });
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: contract tests inspect arbitrary JSON payloads.
  body: any;
  text: string;
}

export interface CallInit {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Bearer token; defaults to the integration user's; `null` sends no Authorization header. */
  token?: string | null;
}

/** Calls `<apiBase>/<path>` (or an absolute URL) with the recommended Dataverse headers. */
export async function call(sim: DataverseSimulator, path: string, init: CallInit = {}): Promise<JsonResponse> {
  const url = path.startsWith('http') ? path : `${sim.apiBase}/${path}`;
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'OData-MaxVersion': '4.0',
    'OData-Version': '4.0',
    ...(init.headers ?? {}),
  };
  const token = init.token === undefined ? sim.integrationUserToken : init.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(url, { method: init.method ?? 'GET', headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if (text !== '' && (res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Calls the control API under /_sim/. */
export async function control(sim: DataverseSimulator, method: string, path: string, body?: unknown): Promise<JsonResponse> {
  const res = await fetch(`${sim.url}/_sim/${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined, text };
}

export interface ReceivedPost {
  url: string;
  headers: IncomingMessage['headers'];
  raw: string;
  // biome-ignore lint/suspicious/noExplicitAny: the RemoteExecutionContext is inspected field by field.
  body: any;
}

/** A webhook endpoint that records every POST and answers with the next scripted status (default 200). */
export class WebhookReceiver {
  readonly posts: ReceivedPost[] = [];
  readonly statuses: number[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        this.posts.push({ url: req.url ?? '', headers: req.headers, raw, body: raw ? JSON.parse(raw) : undefined });
        res.writeHead(this.statuses.shift() ?? 200);
        res.end();
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

/** Registers a webhook endpoint + step through the Web API exactly as api-contracts.md A.1b describes. */
export async function registerStep(
  sim: DataverseSimulator,
  opts: {
    url: string;
    message: 'Create' | 'Update' | 'Delete';
    entity: string;
    filteringattributes?: string;
    /** 1 asynchronous (default), 0 synchronous. */
    mode?: 0 | 1;
    authtype?: 4 | 5 | 6;
    authvalue?: string;
    images?: Array<{ imagetype: 0 | 1 | 2; entityalias: string; attributes?: string }>;
  },
): Promise<{ endpointId: string; stepId: string }> {
  const token = sim.adminUserToken;
  const ep = await call(sim, 'serviceendpoints', {
    method: 'POST',
    token,
    headers: { Prefer: 'return=representation' },
    body: {
      name: `test ${opts.message} ${opts.entity}`,
      url: opts.url,
      contract: 8,
      authtype: opts.authtype ?? 5,
      authvalue: opts.authvalue ?? '<settings><setting name="x-dv-webhook-secret" value="s3cr3t"/></settings>',
      messageformat: 2,
      // SystemRequired on serviceendpoint (entity reference).
      path: new URL(opts.url).pathname,
      userclaim: 1,
      solutionnamespace: new URL(opts.url).hostname,
      connectionmode: 1,
    },
  });
  if (ep.status !== 201) throw new Error(`serviceendpoint: ${ep.status} ${ep.text}`);
  const msg = await call(sim, `sdkmessages?$filter=name eq '${opts.message}'&$select=sdkmessageid`, { token });
  const messageId = msg.body.value[0].sdkmessageid;
  const filter = await call(
    sim,
    `sdkmessagefilters?$filter=primaryobjecttypecode eq '${opts.entity}' and _sdkmessageid_value eq ${messageId}&$select=sdkmessagefilterid`,
    { token },
  );
  const filterId = filter.body.value[0].sdkmessagefilterid;
  const step = await call(sim, 'sdkmessageprocessingsteps', {
    method: 'POST',
    token,
    headers: { Prefer: 'return=representation' },
    body: {
      name: `bc-dataverse-sync: ${opts.message} of ${opts.entity}`,
      mode: opts.mode ?? 1,
      stage: 40,
      rank: 1,
      supporteddeployment: 0,
      asyncautodelete: true,
      ...(opts.filteringattributes ? { filteringattributes: opts.filteringattributes } : {}),
      'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${ep.body.serviceendpointid})`,
      'sdkmessageid@odata.bind': `/sdkmessages(${messageId})`,
      'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${filterId})`,
    },
  });
  if (step.status !== 201) throw new Error(`step: ${step.status} ${step.text}`);
  const stepId = step.body.sdkmessageprocessingstepid;
  for (const img of opts.images ?? []) {
    const r = await call(sim, 'sdkmessageprocessingstepimages', {
      method: 'POST',
      token,
      body: {
        name: img.entityalias,
        entityalias: img.entityalias,
        imagetype: img.imagetype,
        messagepropertyname: opts.message === 'Create' ? 'Id' : 'Target',
        ...(img.attributes ? { attributes: img.attributes } : {}),
        'sdkmessageprocessingstepid@odata.bind': `/sdkmessageprocessingsteps(${stepId})`,
      },
    });
    if (r.status !== 204) throw new Error(`image: ${r.status} ${r.text}`);
  }
  return { endpointId: ep.body.serviceendpointid, stepId };
}
