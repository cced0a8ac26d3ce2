/**
 * Splits text holding several concatenated JSON objects (`{...}{...}` or one per line, as some
 * Sigma regression samples are) into one string per top-level object. Text between objects is
 * ignored; braces inside strings do not count.
 */
export function splitJsonDocuments(text: string): string[] {
  const documents: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (inString) {
      if (char === '\\') index++;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') inString = true;
    else if (char === '{') {
      if (depth === 0) start = index;
      depth++;
    } else if (char === '}') {
      depth--;
      if (depth === 0 && start >= 0) documents.push(text.slice(start, index + 1));
    }
  }
  return documents;
}
