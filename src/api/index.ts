export * from './constants.js';
export * from './checkpoint.js';
export * from './checkpoint-policy.js';
export * from './conditions.js';
export * from './duration.js';
export * from './resolve-storage.js';
export * from './resolve-target.js';
export * from './storage.js';
