export * from '../dist/conversations/index.js';
