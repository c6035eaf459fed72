export * from './client';
export * from './counters';
export * from './errors';
export * from './limiter';
export * from './retry';
export * from './schemas';
