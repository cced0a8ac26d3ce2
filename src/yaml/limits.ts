/**
 * Limits on the shape of rule and detector YAML that the yaml package does not enforce, checked
 * without recursion so that the check itself cannot run out of stack.
 */
import { isAlias, isCollection, isPair } from 'yaml';
import type { Alias, Document, Node } from 'yaml';

/**
 * Deepest nesting of maps and sequences accepted in a rule or detector file. The deepest real
 * structure, a Sigma inline test's event list, nests about 8 levels, so 64 leaves ample room. It
 * is also far below the depth at which the yaml package runs out of stack: about 800 levels,
 * measured with yaml 2.9 on Node 20 and its default stack size.
 */
export const MAX_YAML_DEPTH = 64;

/** Returns the first collection, in document order, that lies deeper than MAX_YAML_DEPTH, or undefined. */
export function findTooDeep(document: Document): Node | undefined {
  const pending: { node: unknown; depth: number }[] = [{ node: document.contents, depth: 1 }];
  while (pending.length > 0) {
    const { node, depth } = pending.pop() as { node: unknown; depth: number };
    if (!isCollection(node)) continue;
    if (depth > MAX_YAML_DEPTH) return node;
    // Pushed in reverse, so the first item is checked first and the result is the first in the file.
    for (const item of [...node.items].reverse()) {
      if (isPair(item)) {
        pending.push({ node: item.value, depth: depth + 1 }, { node: item.key, depth: depth + 1 });
      } else {
        pending.push({ node: item, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/**
 * Returns the alias to blame when the yaml package rejects a document because its aliases expand
 * too far: the first alias, in document order, whose anchored node contains aliases itself,
 * because nesting is what multiplies the expansion. Returns the first alias when none is nested.
 */
export function findExpandingAlias(document: Document): Alias | undefined {
  const aliases = listAliases(document.contents);
  const nested = aliases.find((alias) => {
    const target = alias.resolve(document);
    return target !== undefined && listAliases(target).length > 0;
  });
  return nested ?? aliases[0];
}

/** Lists the aliases under a node in document order. */
function listAliases(root: unknown): Alias[] {
  const aliases: Alias[] = [];
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const node = pending.pop();
    if (isAlias(node)) {
      aliases.push(node);
    } else if (isPair(node)) {
      pending.push(node.value, node.key);
    } else if (isCollection(node)) {
      for (const item of [...node.items].reverse()) pending.push(item);
    }
  }
  return aliases;
}

/** Tells whether a yaml package error is the parser running out of stack on deeply nested input. */
export function isStackOverflowMessage(message: string): boolean {
  return /maximum call stack size exceeded/i.test(message);
}

/** Message for a document nested deeper than MAX_YAML_DEPTH, or so deep that the parser ran out of stack. */
export function nestingMessage(): string {
  return `YAML maps and lists nest deeper than ${MAX_YAML_DEPTH} levels here. Rule and detector files need only a few levels, so remove the extra brackets or indentation.`;
}
