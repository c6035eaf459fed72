export * from './batch';
export * from './client';
export * from './factory';
export * from './gateway';
export * from './metadata';
