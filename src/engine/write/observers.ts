export type { WriteObserver } from '../context.js';
