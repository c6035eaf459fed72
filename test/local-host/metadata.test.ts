import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedFunctions, capturedProgrammingModel } from '../../dev/local-host/core-shim';
import { LocalFunctionsHost } from '../../dev/local-host/host';

/**
 * Pins what `@azure/functions` hands `@azure/functions-core` for each binding kind the service uses. The local host
 * (and our understanding of what Azure indexes) depends on these exact shapes; an upgrade of the pinned
 * `@azure/functions` that changes any of them must fail here, not silently in the host.
 */
const fixtures = path.join(__dirname, 'fixtures');
const noDeferred = { supportsDeferredBinding: 'false' };

describe('captured @azure/functions registration metadata', () => {
  let host: LocalFunctionsHost;

  beforeAll(async () => {
    host = await new LocalFunctionsHost({
      modules: ['http-functions.ts', 'servicebus-functions.ts', 'timer-functions.ts'].map((f) => path.join(fixtures, f)),
      port: 0,
      serviceBusTriggers: false,
      timerSchedules: false,
      env: {
        SERVICEBUS_CONNECTION: 'Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true;',
        ORDERS_QUEUE: 'orders',
        FAST_SCHEDULE: '* * * * * *',
      },
      log: () => undefined,
    }).start();
  });
  afterAll(async () => {
    await host?.stop();
  });

  const metadataOf = (name: string) => capturedFunctions().find((f) => f.name === name)?.metadata;

  it('the library set its programming model through the core API', () => {
    expect(capturedProgrammingModel()).toMatchObject({ name: '@azure/functions', version: '4.16.5' });
  });

  it('http trigger: route, methods, authLevel, and a $return http output', () => {
    expect(metadataOf('secured')).toEqual({
      name: 'secured',
      bindings: {
        httpTriggerbb43fe49a1: {
          route: 'secured/{name?}',
          methods: ['GET'],
          authLevel: 'function',
          type: 'httpTrigger',
          name: 'httpTriggerbb43fe49a1',
          direction: 'in',
          properties: noDeferred,
        },
        $return: { type: 'http', name: 'httpOutput9a706511b1', direction: 'out' },
      },
    });
  });

  it('serviceBus output in extraOutputs: type serviceBus, direction out, queueName and connection', () => {
    expect(metadataOf('enqueue')?.bindings).toEqual({
      httpTrigger315c6b27f8: {
        route: 'enqueue',
        methods: ['POST'],
        authLevel: 'anonymous',
        type: 'httpTrigger',
        name: 'httpTrigger315c6b27f8',
        direction: 'in',
        properties: noDeferred,
      },
      $return: { type: 'http', name: 'httpOutput9a706511b1', direction: 'out' },
      serviceBusOutput894f428757: {
        queueName: 'http-out',
        connection: 'SERVICEBUS_CONNECTION',
        type: 'serviceBus',
        name: 'serviceBusOutput894f428757',
        direction: 'out',
      },
    });
  });

  it('serviceBusTrigger: queueName (binding expressions unresolved), connection, and a serviceBus $return', () => {
    expect(metadataOf('processOrder')).toEqual({
      name: 'processOrder',
      bindings: {
        serviceBusTrigger28ef4353e5: {
          queueName: '%ORDERS_QUEUE%',
          connection: 'SERVICEBUS_CONNECTION',
          type: 'serviceBusTrigger',
          name: 'serviceBusTrigger28ef4353e5',
          direction: 'in',
          properties: noDeferred,
        },
        $return: {
          queueName: 'orders-forwarded',
          connection: 'SERVICEBUS_CONNECTION',
          type: 'serviceBus',
          name: 'serviceBusOutput92e01a8360',
          direction: 'out',
        },
      },
    });
  });

  it('timerTrigger: schedule and runOnStartup', () => {
    expect(metadataOf('nightly')?.bindings).toEqual({
      timerTrigger161943cca8: {
        schedule: '0 0 3 * * *',
        type: 'timerTrigger',
        name: 'timerTrigger161943cca8',
        direction: 'in',
        properties: noDeferred,
      },
    });
    expect(metadataOf('everySecond')?.bindings).toEqual({
      timerTriggerc75833ed44: {
        schedule: '%FAST_SCHEDULE%',
        runOnStartup: true,
        type: 'timerTrigger',
        name: 'timerTriggerc75833ed44',
        direction: 'in',
        properties: noDeferred,
      },
    });
  });

  it('rawBindings carry each binding with its key as name, as the worker sends them to the host', () => {
    const processOrder = capturedFunctions().find((f) => f.name === 'processOrder');
    expect(processOrder?.rawBindings.map((b) => JSON.parse(b))).toEqual([
      expect.objectContaining({ name: 'serviceBusTrigger28ef4353e5', type: 'serviceBusTrigger' }),
      expect.objectContaining({ name: '$return', type: 'serviceBus', direction: 'out' }),
    ]);
  });

  it('hostFunctions() lists every served function with its trigger', () => {
    const summary = host.hostFunctions().map((f) => [f.name, f.trigger.type, f.trigger.name]);
    expect(summary).toEqual([
      ['echoItem', 'httpTrigger', expect.stringMatching(/^httpTrigger[0-9a-f]{10}$/)],
      ['secured', 'httpTrigger', 'httpTriggerbb43fe49a1'],
      ['adminOnly', 'httpTrigger', 'httpTrigger0056c43300'],
      ['boom', 'httpTrigger', 'httpTriggerfd96fc8dda'],
      ['noContent', 'httpTrigger', 'httpTrigger4859d12d4f'],
      ['enqueue', 'httpTrigger', 'httpTrigger315c6b27f8'],
      ['processOrder', 'serviceBusTrigger', 'serviceBusTrigger28ef4353e5'],
      ['poisonHandler', 'serviceBusTrigger', 'serviceBusTrigger584a5fc76d'],
      ['nightly', 'timerTrigger', 'timerTrigger161943cca8'],
      ['everySecond', 'timerTrigger', 'timerTriggerc75833ed44'],
    ]);
    // A copy: callers cannot change what the host serves.
    const first = host.hostFunctions()[1];
    if (first) first.bindings.$return = {};
    expect(host.hostFunctions()[1]?.bindings.$return).toMatchObject({ type: 'http' });
  });
});
