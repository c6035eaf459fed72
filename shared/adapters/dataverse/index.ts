export * from './batch';
export * from './client';
export * from './gateway';
export * from './metadata';
