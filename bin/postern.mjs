// The `postern` entry point from a checkout (bin/postern, `npm start`, the tests and the benchmark).
// It is JavaScript on purpose: it turns on Node's compile cache before any TypeScript is loaded, so
// a start whose modules are all cached never loads the type stripper, whose WebAssembly memory
// would otherwise stay in a running server (about 30 MB per thread; docs/benchmarks.md). The cache
// lives in <os tmpdir>/node-compile-cache, or $NODE_COMPILE_CACHE; one that cannot be written only
// costs the saving, never the start.
import { enableCompileCache } from 'node:module';

const { directory } = enableCompileCache();
// Worker threads (the SQLite writer) start with their own loader: the variable turns the cache on there too.
if (directory && !process.env.NODE_COMPILE_CACHE) process.env.NODE_COMPILE_CACHE = directory;
await import('../src/cli/main.ts');
