export * from './defaults';
export * from './diff';
export * from './draft';
export * from './option-sets';
export * from './queue';
export * from './schema';
export * from './transform';
export * from './validate';
