export * from './errors.js';
export * from './messages.js';
export * from './roles.js';
export * from './tokens.js';
export * from './api.js';
export * from './operator.js';
export * from './resources.js';
export * from './accounts.js';
