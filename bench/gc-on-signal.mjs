// Preloaded by bench/instructions.ts into the measured server (with --expose-gc): SIGUSR2 runs a full
// garbage collection, so every measured window starts from the same heap state.
process.on('SIGUSR2', () => globalThis.gc?.());
