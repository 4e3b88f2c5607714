/**
 * The layout's rule (../shared/design/ARCHITECTURE.md, the developers' guide): dependencies point one
 * way down the pipeline, so no module imports itself back through others, and no folder of src/
 * (one per concern) does either. Type-only imports count: a cycle of types is still two concerns
 * that cannot be understood apart.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const SRC = path.join(import.meta.dirname, '../src');

/** `import … from './x.ts'`, `export … from './x.ts'`, `import './x.ts'` and `import('./x.ts')`, relative only. */
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\b[^'";]*?['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function importGraph(root: string): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    const targets = new Set<string>();
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = path.resolve(path.dirname(file), (match[1] ?? match[2]) as string);
      if (target.startsWith(root + path.sep)) targets.add(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** The strongly connected components with more than one member, or with a self-import (Tarjan). */
function cycles<T>(graph: ReadonlyMap<T, ReadonlySet<T>>): T[][] {
  const index = new Map<T, number>();
  const low = new Map<T, number>();
  const stack: T[] = [];
  const onStack = new Set<T>();
  const found: T[][] = [];
  const visit = (node: T): void => {
    index.set(node, index.size);
    low.set(node, index.get(node) as number);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) as number, index.get(next) as number));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: T[] = [];
    let member: T;
    do {
      member = stack.pop() as T;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || graph.get(node)?.has(node)) found.push(component);
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

function folderGraph(files: ReadonlyMap<string, ReadonlySet<string>>): Map<string, Set<string>> {
  const folderOf = (file: string) => path.relative(SRC, file).split(path.sep)[0] as string;
  const folders = new Map<string, Set<string>>();
  for (const [file, targets] of files) {
    const from = folderOf(file);
    const edges = folders.get(from) ?? new Set<string>();
    folders.set(from, edges);
    for (const target of targets) if (folderOf(target) !== from) edges.add(folderOf(target));
  }
  return folders;
}

const relative = (files: string[]) => files.map((file) => path.relative(SRC, file)).sort();

test('no module of src/ imports itself back, even through types', () => {
  const graph = importGraph(SRC);
  const edges = [...graph.values()].reduce((sum, targets) => sum + targets.size, 0);
  // A reading that found nothing would pass vacuously.
  assert.ok(graph.size > 200 && edges > 500, `${graph.size} modules, ${edges} imports read`);
  assert.deepEqual(cycles(graph).map(relative), []);
});

test('no folder of src/ depends on itself through another', () => {
  const folders = folderGraph(importGraph(SRC));
  assert.ok(folders.get('server')?.has('smtp'), 'the folder reading sees server → smtp');
  assert.deepEqual(cycles(folders), []);
});

test('the cycle finder finds cycles, self-imports included, and only those', () => {
  const graph = new Map<string, Set<string>>([
    ['a', new Set(['b'])],
    ['b', new Set(['c'])],
    ['c', new Set(['a', 'd'])],
    ['d', new Set(['e'])],
    ['e', new Set()],
    ['f', new Set(['f'])],
  ]);
  assert.deepEqual(
    cycles(graph).map((component) => component.sort()),
    [['a', 'b', 'c'], ['f']],
  );
});
